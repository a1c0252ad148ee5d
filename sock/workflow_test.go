package sock_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// TestTCPWorkflow walks the nine steps of a TCP session over IPv4 and IPv6
// and checks, at each one, what the API and the kernel say about both ends.
func TestTCPWorkflow(t *testing.T) {
	for _, tc := range []struct {
		domain, bind, unbound string
		local                 *regexp.Regexp
	}{
		{"inet", "127.0.0.1:0", "0.0.0.0:0", regexp.MustCompile(`^127\.0\.0\.1:[1-9][0-9]*$`)},
		{"inet6", "[::1]:0", "[::]:0", regexp.MustCompile(`^\[::1\]:[1-9][0-9]*$`)},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			tab := newTable(t)

			// socket
			srv := socket(t, tab, tc.domain, "stream")
			in := info(t, tab, srv)
			if in.FD != srv || in.Domain != tc.domain || in.Type != "stream" || in.State != "created" ||
				in.TCPState != "CLOSE" || in.Local != tc.unbound || in.Remote != "" || in.RecvQ != 0 || in.SendQ != 0 {
				t.Errorf("fresh socket: %+v", in)
			}

			// bind, port 0: the kernel picks a port
			addr := bind(t, tab, srv, tc.bind)
			if !tc.local.MatchString(addr) {
				t.Fatalf("bound to %q, want %v", addr, tc.local)
			}
			if in := info(t, tab, srv); in.State != "bound" || in.Local != addr || in.Remote != "" {
				t.Errorf("after bind: %+v", in)
			}

			// listen
			if err := tab.Listen(srv, 16); err != nil {
				t.Fatal(err)
			}
			in = info(t, tab, srv)
			if in.State != "listening" || in.TCPState != "LISTEN" || in.RecvQ != 0 || in.SendQ != 16 {
				t.Errorf("after listen: %+v (want LISTEN, RecvQ 0 waiting, SendQ 16 backlog)", in)
			}

			// connect: non-blocking, so the first attempt is under way
			cli := socket(t, tab, tc.domain, "stream")
			if err := tab.Connect(cli, addr); err != unix.EINPROGRESS {
				t.Fatalf("connect: got %v, want a bare EINPROGRESS", err)
			}
			// The API state follows the kernel's: on loopback the
			// handshake may be over already.
			if in := info(t, tab, cli); in.State != map[string]string{"SYN_SENT": "connecting", "ESTABLISHED": "connected"}[in.TCPState] || in.Remote != addr {
				t.Errorf("while connecting: %+v", in)
			}
			if err := tab.Wait(context.Background(), cli, sock.Writable, time.Now().Add(patience)); err != nil {
				t.Fatalf("wait writable: %v", err)
			}
			if err := tab.FinishConnect(cli, addr); err != nil {
				t.Fatalf("finish connect: %v", err)
			}
			cin := info(t, tab, cli)
			if cin.State != "connected" || cin.TCPState != "ESTABLISHED" || cin.Remote != addr || !tc.local.MatchString(cin.Local) || cin.Local == addr {
				t.Errorf("after connect: %+v", cin)
			}
			clientAddr := cin.Local

			// The kernel completed the handshake before anyone called
			// accept: the connection waits in the listener's queue.
			eventually(t, tab, srv, "one connection waiting", func(in sock.Info) bool { return in.RecvQ == 1 })

			// A second client, so the queue count is seen growing.
			cli2 := dial(t, tab, tc.domain, addr)
			eventually(t, tab, srv, "two connections waiting", func(in sock.Info) bool { return in.RecvQ == 2 })

			// Data sent before accept waits in the kernel too.
			send(t, tab, cli, "hello")

			// accept
			conn, peer := accept(t, tab, srv)
			if peer != clientAddr {
				t.Errorf("accept: peer %q, want %q", peer, clientAddr)
			}
			eventually(t, tab, srv, "one connection left", func(in sock.Info) bool { return in.RecvQ == 1 })
			in = eventually(t, tab, conn, "5 bytes queued", func(in sock.Info) bool { return in.RecvQ == 5 })
			if in.State != "connected" || in.TCPState != "ESTABLISHED" || in.Local != addr || in.Remote != clientAddr || in.Received != 0 {
				t.Errorf("accepted: %+v", in)
			}

			// The receive queue grows while nobody reads.
			send(t, tab, cli, " world")
			eventually(t, tab, conn, "11 bytes queued", func(in sock.Info) bool { return in.RecvQ == 11 })
			eventually(t, tab, cli, "send queue acknowledged", func(in sock.Info) bool { return in.SendQ == 0 })

			// send/recv
			if got := recvN(t, tab, conn, 11); got != "hello world" {
				t.Errorf("recv %q", got)
			}
			send(t, tab, conn, "bye")
			if got := recvN(t, tab, cli, 3); got != "bye" {
				t.Errorf("recv %q", got)
			}
			if in := info(t, tab, conn); in.Received != 11 || in.Sent != 3 || in.RecvQ != 0 {
				t.Errorf("server counters: %+v", in)
			}
			if in := info(t, tab, cli); in.Sent != 11 || in.Received != 3 {
				t.Errorf("client counters: %+v", in)
			}

			// shutdown wr: our FIN is acknowledged (FIN_WAIT2), the peer
			// is told (CLOSE_WAIT) and reads end of stream.
			if err := tab.Shutdown(cli, "wr"); err != nil {
				t.Fatal(err)
			}
			if in := info(t, tab, cli); in.State != "shut-wr" {
				t.Errorf("after shutdown wr: state %q", in.State)
			}
			eventually(t, tab, cli, "FIN_WAIT2", tcpState("FIN_WAIT2"))
			eventually(t, tab, conn, "CLOSE_WAIT", tcpState("CLOSE_WAIT"))
			if got := recv(t, tab, conn, 100); got != "" {
				t.Errorf("recv after the peer's shutdown: %q, want end of stream", got)
			}
			// The half-closed client still receives.
			send(t, tab, conn, "still here")
			if got := recvN(t, tab, cli, 10); got != "still here" {
				t.Errorf("half-closed recv %q", got)
			}

			// The server shuts down too: its FIN puts it in LAST_ACK, and
			// in CLOSE once acknowledged. The side that sent the first FIN
			// goes to TIME_WAIT, but Linux moves that state to a kernel
			// mini-socket and reports the descriptor itself as CLOSE: the
			// TIME_WAIT shows in /proc/net/tcp and keeps the port taken.
			if err := tab.Shutdown(conn, "rdwr"); err != nil {
				t.Fatal(err)
			}
			if in := info(t, tab, conn); in.State != "shut-rdwr" {
				t.Errorf("after shutdown rdwr: state %q", in.State)
			}
			eventually(t, tab, conn, "CLOSE", tcpState("CLOSE"))
			eventually(t, tab, cli, "CLOSE", tcpState("CLOSE"))
			if st := procTCPState(t, tc.domain, clientAddr); st != "TIME_WAIT" {
				t.Errorf("/proc/net says %s is %q, want TIME_WAIT", clientAddr, st)
			}
			if got := recv(t, tab, cli, 100); got != "" {
				t.Errorf("recv at end: %q", got)
			}

			// close
			for _, fd := range []int{cli, cli2, conn, srv} {
				if err := tab.Close(fd); err != nil {
					t.Errorf("close %d: %v", fd, err)
				}
				if _, err := tab.Info(fd); !errors.Is(err, unix.EBADF) {
					t.Errorf("info after close: %v, want EBADF", err)
				}
			}
			if tab.Len() != 0 || len(tab.FDs()) != 0 {
				t.Errorf("table not empty: %v", tab.FDs())
			}
		})
	}
}

// TestTCPPeerCloses: when the peer closes, our end sits in CLOSE_WAIT and
// reads end of stream; the peer's socket is gone from its table.
func TestTCPPeerCloses(t *testing.T) {
	tab := newTable(t)
	cli, conn := pair(t, tab, "inet")
	send(t, tab, cli, "last words")
	if err := tab.Close(cli); err != nil {
		t.Fatal(err)
	}
	in := eventually(t, tab, conn, "CLOSE_WAIT", tcpState("CLOSE_WAIT"))
	if in.RecvQ != 10 || in.State != "connected" {
		t.Errorf("peer closed: %+v", in)
	}
	if got := recvN(t, tab, conn, 10); got != "last words" {
		t.Errorf("recv %q", got)
	}
	for range 2 {
		if got := recv(t, tab, conn, 10); got != "" {
			t.Errorf("recv %q, want end of stream", got)
		}
	}
}

// TestListenQueueCount: a listening socket's RecvQ counts the connections
// the kernel accepted for it and nobody took yet.
func TestListenQueueCount(t *testing.T) {
	tab := newTable(t)
	l, addr := listener(t, tab, "inet", "127.0.0.1:0", 10)
	for i := 1; i <= 4; i++ {
		dial(t, tab, "inet", addr)
		eventually(t, tab, l, strconv.Itoa(i)+" waiting", func(in sock.Info) bool { return in.RecvQ == i })
	}
	for i := 3; i >= 0; i-- {
		accept(t, tab, l)
		if in := info(t, tab, l); in.RecvQ != i || in.SendQ != 10 {
			t.Errorf("after an accept: RecvQ %d SendQ %d, want %d and 10", in.RecvQ, in.SendQ, i)
		}
	}
}

// TestUDP: datagrams keep their boundaries, and recvfrom names the sender.
func TestUDP(t *testing.T) {
	for _, tc := range []struct{ domain, bind string }{
		{"inet", "127.0.0.1:0"},
		{"inet6", "[::1]:0"},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			tab := newTable(t)
			a := socket(t, tab, tc.domain, "dgram")
			b := socket(t, tab, tc.domain, "dgram")
			aAddr := bind(t, tab, a, tc.bind)
			bAddr := bind(t, tab, b, tc.bind)
			if in := info(t, tab, b); in.Type != "dgram" || in.TCPState != "" || in.State != "bound" || in.Local != bAddr {
				t.Errorf("bound udp: %+v", in)
			}
			for _, msg := range []string{"one", "two!", "three"} {
				if n, err := tab.SendTo(a, msg, bAddr); err != nil || n != len(msg) {
					t.Fatalf("sendto: %d %v", n, err)
				}
			}
			// SIOCINQ on a datagram socket is the size of the next
			// datagram, not the sum: the boundary shows here too.
			eventually(t, tab, b, "first datagram queued", func(in sock.Info) bool { return in.RecvQ == 3 })
			for _, want := range []string{"one", "two!"} {
				var got []byte
				var from unix.Sockaddr
				err := tab.Do(context.Background(), b, sock.Readable, time.Now().Add(patience), func() (err error) {
					got, from, err = tab.RecvFrom(b, 100)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != want || sock.FormatAddr(from) != aAddr {
					t.Errorf("recvfrom: %q from %s, want %q from %s", got, sock.FormatAddr(from), want, aAddr)
				}
			}
			// A short read truncates one datagram; the rest of it is
			// gone, not merged into the next.
			if got, _, err := tab.RecvFrom(b, 2); err != nil || string(got) != "th" {
				t.Errorf("short recvfrom: %q %v", got, err)
			}
			if _, _, err := tab.RecvFrom(b, 100); err != unix.EAGAIN {
				t.Errorf("recvfrom on an empty queue: %v, want EAGAIN", err)
			}

			// A connected datagram socket uses send and recv.
			if err := tab.Connect(a, bAddr); err != nil {
				t.Fatalf("connect udp: %v", err)
			}
			if in := info(t, tab, a); in.State != "connected" || in.Remote != bAddr {
				t.Errorf("connected udp: %+v", in)
			}
			send(t, tab, a, "x")
			send(t, tab, a, "yz")
			if got := recv(t, tab, b, 100); got != "x" {
				t.Errorf("recv %q", got)
			}
			if got := recv(t, tab, b, 100); got != "yz" {
				t.Errorf("recv %q", got)
			}
			if in := info(t, tab, a); in.Sent != 15 {
				t.Errorf("sent %d, want 15", in.Sent)
			}
			if in := info(t, tab, b); in.Received != 3+4+2+3 {
				t.Errorf("received %d, want 12", in.Received)
			}
		})
	}
}

// TestUnixStream runs the workflow over AF_UNIX stream sockets, named by a
// path, by a relative path and by an abstract name.
func TestUnixStream(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, addr, want string }{
		{"path", filepath.Join(dir, "s.sock"), filepath.Join(dir, "s.sock")},
		{"abstract", "@" + unique("stream"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == "" {
				tc.want = tc.addr
			}
			tab := newTable(t)
			srv, addr := listener(t, tab, "unix", tc.addr, 4)
			if addr != tc.want {
				t.Errorf("bound to %q, want %q", addr, tc.want)
			}
			in := info(t, tab, srv)
			if in.Domain != "unix" || in.Type != "stream" || in.State != "listening" || in.TCPState != "" || in.Local != tc.want {
				t.Errorf("listening: %+v", in)
			}
			cli := socket(t, tab, "unix", "stream")
			connect(t, tab, cli, addr)
			cin := info(t, tab, cli)
			// The client has no name of its own.
			if cin.State != "connected" || cin.Remote != tc.want || cin.Local != "" {
				t.Errorf("client: %+v", cin)
			}
			send(t, tab, cli, "queued before accept")
			conn, peer := accept(t, tab, srv)
			if peer != "" {
				t.Errorf("accept: peer %q, want \"\" (unnamed)", peer)
			}
			in = eventually(t, tab, conn, "20 bytes queued", func(in sock.Info) bool { return in.RecvQ == 20 })
			if in.Local != tc.want || in.Remote != "" || in.State != "connected" {
				t.Errorf("accepted: %+v", in)
			}
			if got := recvN(t, tab, conn, 20); got != "queued before accept" {
				t.Errorf("recv %q", got)
			}
			send(t, tab, conn, "pong")
			if got := recvN(t, tab, cli, 4); got != "pong" {
				t.Errorf("recv %q", got)
			}
			if err := tab.Shutdown(conn, "wr"); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, tab, cli, 10); got != "" {
				t.Errorf("recv after shutdown: %q, want end of stream", got)
			}
			send(t, tab, cli, "half")
			if got := recvN(t, tab, conn, 4); got != "half" {
				t.Errorf("recv %q", got)
			}
			if in := info(t, tab, cli); in.Sent != 24 || in.Received != 4 {
				t.Errorf("client counters: %+v", in)
			}
			for _, fd := range []int{cli, conn, srv} {
				if err := tab.Close(fd); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestUnixRelativePath binds "unix:REL" and expects the name to print back
// in a form ParseAddr accepts.
func TestUnixRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	tab := newTable(t)
	fd := socket(t, tab, "unix", "stream")
	got := bind(t, tab, fd, "unix:rel.sock")
	if got != "unix:rel.sock" {
		t.Errorf("bound to unix:rel.sock, getsockname says %q", got)
	}
	if _, err := sock.ParseAddr(unix.AF_UNIX, got); err != nil {
		t.Errorf("the printed address does not parse back: %v", err)
	}
	if err := tab.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	c := dial(t, tab, "unix", "unix:rel.sock")
	if in := info(t, tab, c); in.Remote != got {
		t.Errorf("client's remote %q, want %q", in.Remote, got)
	}
}

// TestUnixDatagram: two bound AF_UNIX datagram sockets, by path and by
// abstract name; boundaries kept, the sender named.
func TestUnixDatagram(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, a, b string }{
		{"path", filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")},
		{"abstract", "@" + unique("a"), "@" + unique("b")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := newTable(t)
			a := socket(t, tab, "unix", "dgram")
			b := socket(t, tab, "unix", "dgram")
			if got := bind(t, tab, a, tc.a); got != tc.a {
				t.Errorf("bound to %q, want %q", got, tc.a)
			}
			bind(t, tab, b, tc.b)
			for _, m := range []string{"first", "second"} {
				if _, err := tab.SendTo(a, m, tc.b); err != nil {
					t.Fatal(err)
				}
			}
			in := eventually(t, tab, b, "datagrams queued", func(in sock.Info) bool { return in.RecvQ > 0 })
			if in.Type != "dgram" || in.Domain != "unix" || in.TCPState != "" {
				t.Errorf("info: %+v", in)
			}
			for _, want := range []string{"first", "second"} {
				got, from, err := tab.RecvFrom(b, 100)
				if err != nil || string(got) != want || sock.FormatAddr(from) != tc.a {
					t.Errorf("recvfrom: %q from %q (%v), want %q from %q", got, sock.FormatAddr(from), err, want, tc.a)
				}
			}
			// An unbound sender has no name.
			c := socket(t, tab, "unix", "dgram")
			if _, err := tab.SendTo(c, "anon", tc.b); err != nil {
				t.Fatal(err)
			}
			got, from, err := tab.RecvFrom(b, 100)
			if err != nil || string(got) != "anon" || sock.FormatAddr(from) != "" {
				t.Errorf("recvfrom: %q from %q (%v), want \"anon\" from \"\"", got, sock.FormatAddr(from), err)
			}
			// Sending to a path nobody bound.
			_, err = tab.SendTo(a, "x", filepath.Join(dir, "nobody.sock"))
			wantErr(t, err, "ENOENT", "sendto")
		})
	}
}

// procTCPState finds the kernel's state of the TCP socket bound to local
// in /proc/net/tcp (or tcp6): it lists TIME_WAIT mini-sockets, which no
// descriptor reaches.
func procTCPState(t *testing.T, domain, local string) string {
	t.Helper()
	ap, err := netip.ParseAddrPort(local)
	if err != nil {
		t.Fatal(err)
	}
	file := "/proc/net/tcp"
	if domain == "inet6" {
		file = "/proc/net/tcp6"
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// "sl local_address rem_address st ...": the address in hex as the
	// kernel stores it (32-bit words in host order), then ":PORT" in hex.
	suffix := fmt.Sprintf(":%04X", ap.Port())
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasSuffix(f[1], suffix) {
			continue
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		names := map[uint64]string{1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
			6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}
		return names[st]
	}
	return ""
}
