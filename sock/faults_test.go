package sock_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// noSIGPIPE fails the test if the process gets a SIGPIPE while it runs:
// writes must use MSG_NOSIGNAL. (The Go runtime would ignore the signal
// for us, so it is caught here to be seen.)
func noSIGPIPE(t *testing.T) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGPIPE)
	t.Cleanup(func() {
		defer signal.Stop(sigs)
		select {
		case <-sigs:
			t.Error("the process got SIGPIPE: a send did not use MSG_NOSIGNAL")
		case <-time.After(50 * time.Millisecond):
		}
	})
}

// notsup is the code of EOPNOTSUPP, whose name TestCode pins.
var notsup = sock.Code(unix.EOPNOTSUPP)

// TestPeerResets: a peer that closes with linger 0 sends RST; the next
// receive reports ECONNRESET, and after that the stream has ended.
func TestPeerResets(t *testing.T) {
	for _, domain := range []string{"inet", "inet6"} {
		t.Run(domain, func(t *testing.T) {
			noSIGPIPE(t)
			tab := newTable(t)
			cli, srv := pair(t, tab, domain)
			if err := tab.SetOpt(cli, "linger", 0); err != nil {
				t.Fatal(err)
			}
			if v, err := tab.GetOpt(cli, "linger"); err != nil || v != 0 {
				t.Fatalf("getopt linger: %d %v, want 0", v, err)
			}
			if err := tab.Close(cli); err != nil {
				t.Fatal(err)
			}
			err := tab.Do(context.Background(), srv, sock.Readable, time.Now().Add(patience), func() error {
				_, err := tab.Recv(srv, 100)
				return err
			})
			wantErr(t, err, "ECONNRESET", fmt.Sprintf("recv %d: ECONNRESET: connection reset by peer", srv))
			if !errors.Is(err, unix.ECONNRESET) {
				t.Errorf("errors.Is(%v, ECONNRESET) is false", err)
			}
			if in := info(t, tab, srv); in.TCPState != "CLOSE" {
				t.Errorf("after RST: %s, want CLOSE", in.TCPState)
			}
			if b, err := tab.Recv(srv, 100); err != nil || len(b) != 0 {
				t.Errorf("recv after the reset: %q %v, want end of stream", b, err)
			}
			_, err = tab.Send(srv, "anyone?")
			wantErr(t, err, "EPIPE")
		})
	}
}

// TestPeerGone: sending to a peer that has closed gives EPIPE once its RST
// is back, and never kills the process.
func TestPeerGone(t *testing.T) {
	noSIGPIPE(t)
	tab := newTable(t)
	cli, srv := pair(t, tab, "inet")
	if err := tab.Close(srv); err != nil {
		t.Fatal(err)
	}
	eventually(t, tab, cli, "CLOSE_WAIT", tcpState("CLOSE_WAIT"))
	// The first send still goes out (the kernel cannot know yet); the
	// peer answers it with RST, and sends fail from then on.
	var err error
	for end := time.Now().Add(patience); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if _, err = tab.Send(cli, "x"); err != nil {
			break
		}
	}
	wantErr(t, err, "EPIPE", fmt.Sprintf("send %d: EPIPE: broken pipe", cli))
	_, err = tab.Send(cli, "again")
	wantErr(t, err, "EPIPE")
	if in := info(t, tab, cli); in.Sent < 1 {
		t.Errorf("sent %d, want the first byte counted", in.Sent)
	}

	// AF_UNIX knows at once.
	ucli, usrv := pair(t, tab, "unix")
	if err := tab.Close(usrv); err != nil {
		t.Fatal(err)
	}
	_, err = tab.Send(ucli, "x")
	wantErr(t, err, "EPIPE")

	// Our own shutdown wr: EPIPE too, on send and on sendto.
	a, _ := pair(t, tab, "inet")
	if err := tab.Shutdown(a, "wr"); err != nil {
		t.Fatal(err)
	}
	_, err = tab.Send(a, "x")
	wantErr(t, err, "EPIPE")
	peer, err := tab.Peername(a)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tab.SendTo(a, "x", peer)
	wantErr(t, err, "EPIPE", "sendto")
}

// TestHalfClosedPeer: a peer that shut down writing still reads: we see
// end of stream, and our sends still arrive.
func TestHalfClosedPeer(t *testing.T) {
	for _, domain := range []string{"inet", "unix"} {
		t.Run(domain, func(t *testing.T) {
			tab := newTable(t)
			cli, srv := pair(t, tab, domain)
			if err := tab.Shutdown(srv, "wr"); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if got := recv(t, tab, cli, 10); got != "" {
					t.Fatalf("recv %q, want end of stream", got)
				}
			}
			send(t, tab, cli, "are you there?")
			if got := recvN(t, tab, srv, 14); got != "are you there?" {
				t.Errorf("recv %q", got)
			}
			if in := info(t, tab, cli); in.State != "connected" || in.Sent != 14 {
				t.Errorf("client: %+v", in)
			}
		})
	}
}

// TestConnectRefused: nobody listens.
func TestConnectRefused(t *testing.T) {
	tab := newTable(t)

	// TCP: a bound port that is not listening answers SYN with RST.
	b := socket(t, tab, "inet", "stream")
	addr := bind(t, tab, b, "127.0.0.1:0")
	c := socket(t, tab, "inet", "stream")
	err := connectErr(tab, c, addr, time.Now().Add(patience))
	wantErr(t, err, "ECONNREFUSED")
	if want := fmt.Sprintf("connect %d %s: ECONNREFUSED: connection refused", c, addr); err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if in := info(t, tab, c); in.State == "connecting" || in.State == "connected" {
		t.Errorf("after a refused connect: %+v", in)
	}

	// UDP: the port unreachable ICMP shows on the next receive.
	u := socket(t, tab, "inet", "dgram")
	gone := bind(t, tab, u, "127.0.0.1:0")
	if err := tab.Close(u); err != nil {
		t.Fatal(err)
	}
	u = socket(t, tab, "inet", "dgram")
	if err := tab.Connect(u, gone); err != nil {
		t.Fatal(err)
	}
	send(t, tab, u, "hello?")
	err = tab.Do(context.Background(), u, sock.Readable, time.Now().Add(patience), func() error {
		_, err := tab.Recv(u, 10)
		return err
	})
	wantErr(t, err, "ECONNREFUSED", "recv")

	// AF_UNIX: a bound path with no listener, and no path at all.
	dir := t.TempDir()
	p := filepath.Join(dir, "bound.sock")
	s := socket(t, tab, "unix", "stream")
	bind(t, tab, s, p)
	err = connectErr(tab, socket(t, tab, "unix", "stream"), p, time.Now().Add(patience))
	wantErr(t, err, "ECONNREFUSED", p)
	err = connectErr(tab, socket(t, tab, "unix", "stream"), filepath.Join(dir, "none.sock"), time.Now().Add(patience))
	wantErr(t, err, "ENOENT", "none.sock")
}

// TestFullBacklog: with listen backlog 1 Linux completes backlog+1 = 2
// connections nobody accepted; it drops the next SYN, so that client
// stays in SYN_SENT and its connect times out, until an accept makes room
// and the SYN is retransmitted (after about a second).
func TestFullBacklog(t *testing.T) {
	tab := newTable(t)
	l, addr := listener(t, tab, "inet", "127.0.0.1:0", 1)
	for i := 1; i <= 2; i++ {
		c := dial(t, tab, "inet", addr)
		if in := info(t, tab, c); in.TCPState != "ESTABLISHED" {
			t.Fatalf("client %d: %s", i, in.TCPState)
		}
		eventually(t, tab, l, fmt.Sprint(i, " queued"), func(in sock.Info) bool { return in.RecvQ == i })
	}
	if in := info(t, tab, l); in.RecvQ != 2 || in.SendQ != 1 {
		t.Errorf("full queue: RecvQ %d SendQ %d, want 2 and 1", in.RecvQ, in.SendQ)
	}

	extra := socket(t, tab, "inet", "stream")
	if err := tab.Connect(extra, addr); err != unix.EINPROGRESS {
		t.Fatalf("connect: %v", err)
	}
	start := time.Now()
	err := tab.Do(context.Background(), extra, sock.Writable, start.Add(300*time.Millisecond), func() error {
		return tab.FinishConnect(extra, addr)
	})
	if !errors.Is(err, unix.ETIMEDOUT) {
		t.Fatalf("connect to a full backlog: %v, want ETIMEDOUT", err)
	}
	// The kernel does not know the peer yet (getpeername fails), but the
	// table remembers where it is connecting to.
	if in := info(t, tab, extra); in.TCPState != "SYN_SENT" || in.State != "connecting" || in.Remote != addr {
		t.Errorf("extra client: %+v, want SYN_SENT to %s", in, addr)
	}
	if in := info(t, tab, l); in.RecvQ != 2 {
		t.Errorf("queue: %d, want still 2", in.RecvQ)
	}

	accept(t, tab, l)
	err = tab.Do(context.Background(), extra, sock.Writable, time.Now().Add(patience), func() error {
		return tab.FinishConnect(extra, addr)
	})
	if err != nil {
		t.Fatalf("connect once there is room: %v", err)
	}
	if in := info(t, tab, extra); in.TCPState != "ESTABLISHED" || in.State != "connected" {
		t.Errorf("extra client: %+v", in)
	}
	eventually(t, tab, l, "2 queued again", func(in sock.Info) bool { return in.RecvQ == 2 })
}

// TestAddrInUse: a second bind to a taken address.
func TestAddrInUse(t *testing.T) {
	tab := newTable(t)
	for _, tc := range []struct{ domain, typ, addr string }{
		{"inet", "stream", "127.0.0.1:0"},
		{"inet6", "stream", "[::1]:0"},
		{"inet", "dgram", "127.0.0.1:0"},
		{"unix", "stream", filepath.Join(t.TempDir(), "s.sock")},
		{"unix", "dgram", "@" + unique("inuse")},
	} {
		a := socket(t, tab, tc.domain, tc.typ)
		addr := bind(t, tab, a, tc.addr)
		if tc.typ == "stream" {
			if err := tab.Listen(a, 1); err != nil {
				t.Fatal(err)
			}
		}
		b := socket(t, tab, tc.domain, tc.typ)
		err := tab.Bind(b, addr)
		wantErr(t, err, "EADDRINUSE")
		if want := fmt.Sprintf("bind %d %s: EADDRINUSE: address already in use", b, addr); err.Error() != want {
			t.Errorf("got %q, want %q", err, want)
		}
		if in := info(t, tab, b); in.State != "created" {
			t.Errorf("%s %s: a failed bind changed the state to %q", tc.domain, tc.typ, in.State)
		}
	}
}

// TestTimeWaitHoldsPort: the side that closes first leaves a TIME_WAIT
// behind, which keeps its address taken even though no descriptor holds it.
func TestTimeWaitHoldsPort(t *testing.T) {
	tab := newTable(t)
	cli, srv := pair(t, tab, "inet")
	addr := sockname(t, tab, cli)
	if err := tab.Close(cli); err != nil {
		t.Fatal(err)
	}
	eventually(t, tab, srv, "CLOSE_WAIT", tcpState("CLOSE_WAIT"))
	if err := tab.Close(srv); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(patience)
	for procTCPState(t, "inet", addr) != "TIME_WAIT" {
		if time.Now().After(end) {
			t.Fatalf("%s never reached TIME_WAIT: %q", addr, procTCPState(t, "inet", addr))
		}
		time.Sleep(2 * time.Millisecond)
	}
	s := socket(t, tab, "inet", "stream")
	wantErr(t, tab.Bind(s, addr), "EADDRINUSE")
}

// TestRunOutOfDescriptors lowers RLIMIT_NOFILE until socket fails with
// EMFILE, and checks that accept and wait fail cleanly too, that the
// waiting connection is not lost, and that nothing leaks.
func TestRunOutOfDescriptors(t *testing.T) {
	tab := newTable(t)
	l, addr := listener(t, tab, "inet", "127.0.0.1:0", 4)
	c := dial(t, tab, "inet", addr)
	eventually(t, tab, l, "a connection waiting", func(in sock.Info) bool { return in.RecvQ == 1 })

	var saved unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	highest := 0
	for fd := range openFDs(t) {
		highest = max(highest, fd)
	}
	low := saved
	low.Cur = uint64(highest + 1 + 8)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(restore)

	var fillers []int
	for {
		fd, err := tab.Socket("inet", "dgram")
		if err != nil {
			wantErr(t, err, "EMFILE")
			if want := "socket inet dgram: EMFILE: too many open files"; err.Error() != want {
				t.Errorf("got %q, want %q", err, want)
			}
			break
		}
		fillers = append(fillers, fd)
		if len(fillers) > int(low.Cur) {
			t.Fatalf("no EMFILE after %d sockets with the limit at %d", len(fillers), low.Cur)
		}
	}
	_, _, err := tab.Accept(l)
	wantErr(t, err, "EMFILE", fmt.Sprintf("accept %d: EMFILE", l))
	if in := info(t, tab, l); in.RecvQ != 1 {
		t.Errorf("a failed accept lost the connection: RecvQ %d", in.RecvQ)
	}
	// A table that has never waited needs a descriptor to wait with.
	fresh := sock.NewTable()
	err = fresh.Wait(context.Background(), l, sock.Readable, time.Now().Add(patience))
	if !errors.Is(err, unix.EMFILE) || sock.Code(err) != "EMFILE" {
		t.Errorf("wait out of descriptors: %v, want EMFILE", err)
	}
	fresh.CloseAll()

	if err := tab.Close(fillers[0]); err != nil {
		t.Fatal(err)
	}
	conn, _ := accept(t, tab, l)
	send(t, tab, c, "made it")
	if got := recvN(t, tab, conn, 7); got != "made it" {
		t.Errorf("recv %q", got)
	}
	restore()
	for _, fd := range fillers[1:] {
		if err := tab.Close(fd); err != nil {
			t.Error(err)
		}
	}
}

// bulkSize is how much the bulk tests move each way.
const bulkSize = 50 << 20

// bulkData is bulkSize pseudo-random bytes, the same on every run.
func bulkData() string {
	b := make([]byte, bulkSize)
	r := rand.NewChaCha8([32]byte{'s', 'o', 'c', 'k'})
	r.Read(b)
	return string(b)
}

// TestBulkEcho sends 50 MB to an echo server running in its own goroutine
// with its own Table, and reads the 50 MB back while still sending.
func TestBulkEcho(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 100 MB")
	}
	data := bulkData()
	tab := newTable(t)
	stab := sock.NewTable() // the server's; its goroutine closes it
	l, addr := listener(t, stab, "inet", "127.0.0.1:0", 1)

	done := make(chan echoResult, 1)
	go func() {
		r := echo(stab, l)
		stab.CloseAll() // before reporting, so the test's leak check sees it closed
		done <- r
	}()

	c := dial(t, tab, "inet", addr)
	want, got := sha256.New(), sha256.New()
	sent, received := 0, 0
	shut := false
	deadline := time.Now().Add(60 * time.Second)
	for received < bulkSize || !shut {
		progress := false
		if sent < bulkSize {
			n, err := tab.Send(c, data[sent:min(sent+256<<10, bulkSize)])
			if err != nil && err != unix.EAGAIN {
				t.Fatal(err)
			}
			want.Write([]byte(data[sent : sent+n]))
			sent += n
			progress = progress || n > 0
		} else if !shut {
			if err := tab.Shutdown(c, "wr"); err != nil {
				t.Fatal(err)
			}
			shut, progress = true, true
		}
		b, err := tab.Recv(c, 256<<10)
		switch {
		case err == unix.EAGAIN:
		case err != nil:
			t.Fatal(err)
		case len(b) == 0:
			t.Fatalf("end of stream after %d bytes", received)
		default:
			got.Write(b)
			received += len(b)
			progress = true
		}
		if !progress {
			var events int16 = sock.Readable
			if sent < bulkSize {
				events |= sock.Writable
			}
			if err := tab.Wait(context.Background(), c, events, deadline); err != nil {
				t.Fatalf("after %d sent, %d received: %v", sent, received, err)
			}
		}
	}
	if got := recv(t, tab, c, 10); got != "" {
		t.Errorf("after the echo: %q, want end of stream", got)
	}
	if string(want.Sum(nil)) != string(got.Sum(nil)) {
		t.Error("the echo differs from what was sent")
	}
	if in := info(t, tab, c); in.Sent != bulkSize || in.Received != bulkSize {
		t.Errorf("counters: sent %d received %d, want %d", in.Sent, in.Received, bulkSize)
	}
	r := <-done
	if r.err != nil || r.sent != bulkSize || r.received != bulkSize {
		t.Errorf("server: %+v", r)
	}
}

// echoResult is what the echo server reports: its counters, or why it
// stopped.
type echoResult struct {
	sent, received int64
	err            error
}

// echo accepts one connection on l and sends back all it reads, until end
// of stream.
func echo(tab *sock.Table, l int) (r echoResult) {
	ctx, deadline := context.Background(), time.Now().Add(60*time.Second)
	var conn int
	r.err = tab.Do(ctx, l, sock.Readable, deadline, func() (err error) {
		conn, _, err = tab.Accept(l)
		return err
	})
	for r.err == nil {
		var b []byte
		r.err = tab.Do(ctx, conn, sock.Readable, deadline, func() (err error) {
			b, err = tab.Recv(conn, 256<<10)
			return err
		})
		if r.err != nil || len(b) == 0 {
			break
		}
		data := string(b) // b is only valid until the next call
		for len(data) > 0 && r.err == nil {
			r.err = tab.Do(ctx, conn, sock.Writable, deadline, func() error {
				n, err := tab.Send(conn, data)
				data = data[n:]
				return err
			})
		}
	}
	if r.err == nil {
		r.err = tab.Shutdown(conn, "wr")
	}
	in, _ := tab.Info(conn)
	r.sent, r.received = in.Sent, in.Received
	return r
}

// TestBulkOneGoroutine moves 50 MB through an AF_UNIX stream pair with
// both ends in one Table and one goroutine, alternating between them with
// Do.
func TestBulkOneGoroutine(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 50 MB")
	}
	data := bulkData()
	tab := newTable(t)
	a, b := pair(t, tab, "unix")
	ctx, deadline := context.Background(), time.Now().Add(60*time.Second)
	var out strings.Builder
	out.Grow(bulkSize)
	sent := 0
	for out.Len() < bulkSize {
		if sent < bulkSize {
			err := tab.Do(ctx, a, sock.Writable, deadline, func() error {
				n, err := tab.Send(a, data[sent:min(sent+100<<10, bulkSize)])
				sent += n
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if sent == bulkSize {
				if err := tab.Shutdown(a, "wr"); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Read everything the kernel holds, so the writer has room again.
		for {
			got, err := tab.Recv(b, 64<<10)
			if err == unix.EAGAIN {
				break
			}
			if err != nil || len(got) == 0 {
				t.Fatalf("recv after %d bytes: %q %v", out.Len(), got, err)
			}
			out.Write(got)
			if out.Len() == bulkSize {
				break
			}
		}
	}
	if got := recv(t, tab, b, 1); got != "" {
		t.Errorf("after all: %q, want end of stream", got)
	}
	if out.String() != data {
		t.Error("received data differs from what was sent")
	}
	if in := info(t, tab, a); in.Sent != bulkSize {
		t.Errorf("sent %d", in.Sent)
	}
	if in := info(t, tab, b); in.Received != bulkSize {
		t.Errorf("received %d", in.Received)
	}
}

// TestBadSizes: zero and negative sizes.
func TestBadSizes(t *testing.T) {
	tab := newTable(t)
	a, b := pair(t, tab, "inet")
	for _, max := range []int{0, -1} {
		_, err := tab.Recv(a, max)
		wantErr(t, err, "EINVAL", fmt.Sprintf("recv %d: EINVAL: bad size %d: expected a positive number of bytes", a, max))
		_, _, err = tab.RecvFrom(a, max)
		wantErr(t, err, "EINVAL", "recvfrom", "expected a positive number of bytes")
	}
	// RecvN 0 is the empty string at once, even with nothing to read.
	if got, err := tab.RecvN(a, 0, 0); err != nil || len(got) != 0 {
		t.Errorf("recvn 0: %q %v", got, err)
	}
	_, err := tab.RecvN(a, -1, 0)
	wantErr(t, err, "EINVAL", fmt.Sprintf("recvn %d: EINVAL: bad size -1: expected a number of bytes >= 0", a))
	_, err = tab.RecvUntil(a, "", 0)
	wantErr(t, err, "EINVAL", "recvuntil", "expected at least one byte")
	if n, err := tab.Send(b, ""); err != nil || n != 0 {
		t.Errorf("send of nothing: %d %v", n, err)
	}
	// None of it disturbed the stream.
	send(t, tab, b, "intact")
	if got := recvN(t, tab, a, 6); got != "intact" {
		t.Errorf("recv %q", got)
	}
	if in := info(t, tab, a); in.Buffered != 0 || in.Received != 6 {
		t.Errorf("info: %+v", in)
	}
}

// TestPeekBadSize: Peek with a size out of range returns nothing rather
// than panicking.
func TestPeekBadSize(t *testing.T) {
	tab := newTable(t)
	a, _ := pair(t, tab, "unix")
	tab.Unread(a, []byte("abc"))
	if got := string(tab.Peek(a, 2)); got != "ab" {
		t.Errorf("peek 2: %q", got)
	}
	if got := string(tab.Peek(a, 10)); got != "abc" {
		t.Errorf("peek 10: %q", got)
	}
	if got := tab.Peek(-1, 1); got != nil {
		t.Errorf("peek of an unknown fd: %q", got)
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("peek -1 panicked: %v", r)
			}
		}()
		if got := tab.Peek(a, -1); len(got) != 0 {
			t.Errorf("peek -1: %q", got)
		}
	}()
	if got := recv(t, tab, a, 10); got != "abc" {
		t.Errorf("peek consumed: recv %q", got)
	}
}

// TestOptions sets and reads every option, and checks bad names and
// values.
func TestOptions(t *testing.T) {
	tab := newTable(t)
	fd := socket(t, tab, "inet6", "stream")
	for _, o := range sock.Options() {
		switch {
		case o.Bool:
			for _, v := range []int{1, 0, 7} {
				if err := tab.SetOpt(fd, o.Name, v); err != nil {
					t.Fatalf("setopt %s %d: %v", o.Name, v, err)
				}
				got, err := tab.GetOpt(fd, o.Name)
				if want := min(v, 1); err != nil || got != want {
					t.Errorf("getopt %s after %d: %d %v, want %d", o.Name, v, got, err, want)
				}
			}
		case o.Name == "linger":
			for _, v := range []int{5, 0, -1} {
				if err := tab.SetOpt(fd, o.Name, v); err != nil {
					t.Fatal(err)
				}
				if got, err := tab.GetOpt(fd, o.Name); err != nil || got != v {
					t.Errorf("getopt linger after %d: %d %v", v, got, err)
				}
			}
		case o.Name == "error": // SO_ERROR: read only
			if got, err := tab.GetOpt(fd, o.Name); err != nil || got != 0 {
				t.Errorf("getopt error: %d %v, want 0", got, err)
			}
			wantErr(t, tab.SetOpt(fd, o.Name, 0), "ENOPROTOOPT")
		default: // buffer sizes: Linux doubles what it is given
			if err := tab.SetOpt(fd, o.Name, 16384); err != nil {
				t.Fatal(err)
			}
			if got, err := tab.GetOpt(fd, o.Name); err != nil || got != 32768 {
				t.Errorf("getopt %s after 16384: %d %v, want 32768", o.Name, got, err)
			}
			err := tab.SetOpt(fd, o.Name, -1)
			wantErr(t, err, "EINVAL", fmt.Sprintf("setopt %d: EINVAL: bad value -1 for %s: expected a size in bytes", fd, o.Name))
		}
	}
	list := "reuseaddr, reuseport, nodelay, keepalive, broadcast, v6only, rcvbuf, sndbuf, linger, error"
	err := tab.SetOpt(fd, "nosuch", 1)
	wantErr(t, err, "EINVAL", fmt.Sprintf(`setopt %d: EINVAL: unknown option "nosuch": expected one of %s`, fd, list))
	_, err = tab.GetOpt(fd, "NODELAY")
	wantErr(t, err, "EINVAL", fmt.Sprintf(`getopt %d: EINVAL: unknown option "NODELAY": expected one of %s`, fd, list))
	if _, ok := sock.LookupOption("nodelay"); !ok {
		t.Error("LookupOption(nodelay) not found")
	}

	// Options that do not apply to the socket: the kernel's errno.
	u := socket(t, tab, "unix", "stream")
	err = tab.SetOpt(u, "nodelay", 1)
	wantErr(t, err, notsup, fmt.Sprintf("setopt %d nodelay: %s: operation not supported", u, notsup))
	i4 := socket(t, tab, "inet", "dgram")
	_, err = tab.GetOpt(i4, "v6only")
	wantErr(t, err, notsup, fmt.Sprintf("getopt %d v6only: %s", i4, notsup))
}

// TestBadArguments: names the API does not know.
func TestBadArguments(t *testing.T) {
	tab := newTable(t)
	_, err := tab.Socket("inet4", "stream")
	wantErr(t, err, "EINVAL", `socket: EINVAL: bad domain "inet4": expected inet, inet6 or unix`)
	_, err = tab.Socket("inet", "raw")
	wantErr(t, err, "EINVAL", `socket: EINVAL: bad type "raw": expected stream, dgram or seqpacket`)
	a, _ := pair(t, tab, "inet")
	err = tab.Shutdown(a, "both")
	wantErr(t, err, "EINVAL", fmt.Sprintf(`shutdown %d: EINVAL: bad direction "both": expected rd, wr or rdwr`, a))
	if in := info(t, tab, a); in.State != "connected" {
		t.Errorf("a failed shutdown changed the state: %q", in.State)
	}
	if tab.Len() != 2 {
		t.Errorf("table holds %d, want 2", tab.Len())
	}
}

// TestWrongState: calls the kernel refuses in the socket's state.
func TestWrongState(t *testing.T) {
	tab := newTable(t)
	u := socket(t, tab, "inet", "dgram")
	wantErr(t, tab.Listen(u, 1), notsup, fmt.Sprintf("listen %d: %s: operation not supported", u, notsup))
	s := socket(t, tab, "inet", "stream")
	_, _, err := tab.Accept(s)
	wantErr(t, err, "EINVAL", fmt.Sprintf("accept %d: EINVAL", s))
	_, err = tab.Send(s, "x")
	wantErr(t, err, "EPIPE", "send") // Linux: EPIPE on a never-connected stream
	_, err = tab.Recv(s, 1)
	wantErr(t, err, "ENOTCONN", "recv")
	wantErr(t, tab.Shutdown(s, "rdwr"), "ENOTCONN", "shutdown")
	_, err = tab.Peername(s)
	wantErr(t, err, "ENOTCONN", fmt.Sprintf("getpeername %d: ENOTCONN", s))
	bind(t, tab, s, "127.0.0.1:0")
	wantErr(t, tab.Bind(s, "127.0.0.1:0"), "EINVAL", "bind") // bound already
	if in := info(t, tab, s); in.State != "bound" {
		t.Errorf("state %q, want bound", in.State)
	}
}

// TestDoubleClose: the second close is EBADF, and the table stays sound.
func TestDoubleClose(t *testing.T) {
	tab := newTable(t)
	fd := socket(t, tab, "inet", "stream")
	if err := tab.Close(fd); err != nil {
		t.Fatal(err)
	}
	err := tab.Close(fd)
	wantErr(t, err, "EBADF", fmt.Sprintf("close %d: EBADF: bad file descriptor (not a socket of this session)", fd))
	if tab.Len() != 0 {
		t.Errorf("Len %d after closing the only socket twice", tab.Len())
	}
	// The number is free for the kernel to hand out again.
	if again := socket(t, tab, "inet", "stream"); again != fd {
		t.Logf("kernel gave %d, not %d", again, fd)
	}
	if tab.Len() != 1 {
		t.Errorf("Len %d, want 1", tab.Len())
	}
}

// TestUnknownDescriptor: every operation on a descriptor that is not a
// socket of the table is EBADF, whether it is open in the process or not.
func TestUnknownDescriptor(t *testing.T) {
	tab := newTable(t)
	closed := socket(t, tab, "inet", "stream")
	if err := tab.Close(closed); err != nil {
		t.Fatal(err)
	}
	other := sock.NewTable() // a socket of another table is not ours
	defer other.CloseAll()
	theirs, err := other.Socket("inet", "stream")
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]func(fd int) error{
		"bind":        func(fd int) error { return tab.Bind(fd, "127.0.0.1:0") },
		"listen":      func(fd int) error { return tab.Listen(fd, 1) },
		"accept":      func(fd int) error { _, _, err := tab.Accept(fd); return err },
		"connect":     func(fd int) error { return tab.Connect(fd, "127.0.0.1:1") },
		"send":        func(fd int) error { _, err := tab.Send(fd, "x"); return err },
		"sendto":      func(fd int) error { _, err := tab.SendTo(fd, "x", "127.0.0.1:1"); return err },
		"recv":        func(fd int) error { _, err := tab.Recv(fd, 1); return err },
		"recvfrom":    func(fd int) error { _, _, err := tab.RecvFrom(fd, 1); return err },
		"recvn":       func(fd int) error { _, err := tab.RecvN(fd, 1, 0); return err },
		"recvuntil":   func(fd int) error { _, err := tab.RecvUntil(fd, "\n", 0); return err },
		"recvframe":   func(fd int) error { _, err := tab.RecvFrame(fd, "u8", 0); return err },
		"shutdown":    func(fd int) error { return tab.Shutdown(fd, "rdwr") },
		"close":       func(fd int) error { return tab.Close(fd) },
		"getsockname": func(fd int) error { _, err := tab.Sockname(fd); return err },
		"getpeername": func(fd int) error { _, err := tab.Peername(fd); return err },
		"setopt":      func(fd int) error { return tab.SetOpt(fd, "nodelay", 1) },
		"getopt":      func(fd int) error { _, err := tab.GetOpt(fd, "nodelay"); return err },
		"info":        func(fd int) error { _, err := tab.Info(fd); return err },
	}
	// FinishConnect reports as connect.
	finish := func(fd int) error { return tab.FinishConnect(fd, "127.0.0.1:1") }
	for _, fd := range []int{-1, 0, 1, 2, closed, theirs, 1 << 20} {
		for op, call := range ops {
			err := call(fd)
			wantErr(t, err, "EBADF", op)
			var e *sock.Error
			if errors.As(err, &e) && (e.Op != op || e.FD != fd) {
				t.Errorf("%s %d: error names %s %d", op, fd, e.Op, e.FD)
			}
		}
		wantErr(t, finish(fd), "EBADF", "connect")
		if _, err := tab.Get("fds", fd); !errors.Is(err, unix.EBADF) {
			t.Errorf("Get %d: %v", fd, err)
		}
		tab.Unread(fd, []byte("x")) // must not panic
	}
	if tab.Len() != 0 {
		t.Errorf("Len %d", tab.Len())
	}
	// The other table's socket is untouched.
	if _, err := other.Info(theirs); err != nil {
		t.Errorf("the other table lost its socket: %v", err)
	}
}

// TestDescriptorFlags: every socket of the table, made or accepted, is
// non-blocking (calls must never block the goroutine that owns the table)
// and close-on-exec (a program the session starts must not inherit it).
func TestDescriptorFlags(t *testing.T) {
	tab := newTable(t)
	fds := []int{socket(t, tab, "inet", "dgram"), socket(t, tab, "unix", "dgram")}
	for _, domain := range []string{"inet", "inet6", "unix"} {
		c, s := pair(t, tab, domain)
		fds = append(fds, c, s)
	}
	for _, fd := range fds {
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			t.Fatal(err)
		}
		fdfl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fl&unix.O_NONBLOCK == 0 || fdfl&unix.FD_CLOEXEC == 0 {
			in := info(t, tab, fd)
			t.Errorf("fd %d (%s %s %s): O_NONBLOCK %v, FD_CLOEXEC %v", fd, in.Domain, in.Type, in.State, fl&unix.O_NONBLOCK != 0, fdfl&unix.FD_CLOEXEC != 0)
		}
	}
}
