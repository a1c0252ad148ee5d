package sock_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// TestSocketPair makes a pair of each type: both ends connected and
// unnamed in the table; a stream merges sends, dgram and seqpacket keep
// each message whole; closing one end is the end of stream (stream,
// seqpacket) for the other.
func TestSocketPair(t *testing.T) {
	for _, typ := range []string{"stream", "dgram", "seqpacket"} {
		t.Run(typ, func(t *testing.T) {
			tab := newTable(t)
			a, b, err := tab.SocketPair("unix", typ)
			if err != nil {
				t.Fatal(err)
			}
			for _, fd := range []int{a, b} {
				in := info(t, tab, fd)
				if in.Domain != "unix" || in.Type != typ || in.State != "connected" || in.Local != "" || in.Remote != "" || in.TCPState != "" {
					t.Errorf("fd %d: %+v; want unix %s connected, unnamed", fd, in, typ)
				}
			}
			send(t, tab, a, "one")
			send(t, tab, a, "two")
			eventually(t, tab, b, "both sends queued", func(in sock.Info) bool { return in.RecvQ >= 3 })
			want := map[string][]string{"stream": {"onetwo"}, "dgram": {"one", "two"}, "seqpacket": {"one", "two"}}[typ]
			for _, w := range want {
				if got := recv(t, tab, b, 100); got != w {
					t.Errorf("recv = %q; want %q", got, w)
				}
			}
			send(t, tab, b, "back")
			if got := recv(t, tab, a, 100); got != "back" {
				t.Errorf("recv the other way = %q", got)
			}
			if typ != "dgram" {
				tab.Close(a)
				if got := recv(t, tab, b, 100); got != "" {
					t.Errorf("recv after the peer closed = %q; want the end of stream", got)
				}
			}
		})
	}
	tab := newTable(t)
	_, _, err := tab.SocketPair("inet", "stream")
	wantErr(t, err, "EOPNOTSUPP", "socketpair inet stream")
	_, _, err = tab.SocketPair("unix", "raw")
	wantErr(t, err, "EINVAL", `bad type "raw"`)
	if tab.Len() != 0 {
		t.Errorf("failed pairs left %d descriptors in the table", tab.Len())
	}
}

// TestSeqpacket runs the connection workflow on a seqpacket socket bound to
// a path: listen, connect, accept, messages kept whole in both directions,
// a short receive truncating a message (the rest is gone, as for dgram).
func TestSeqpacket(t *testing.T) {
	tab := newTable(t)
	path := filepath.Join(t.TempDir(), "seq.sock")
	l := socket(t, tab, "unix", "seqpacket")
	bind(t, tab, l, path)
	if err := tab.Listen(l, 8); err != nil {
		t.Fatal(err)
	}
	if in := info(t, tab, l); in.State != "listening" || in.Type != "seqpacket" || in.Local != path {
		t.Errorf("listener: %+v", in)
	}
	c := socket(t, tab, "unix", "seqpacket")
	connect(t, tab, c, path)
	s, _ := accept(t, tab, l)
	if in := info(t, tab, s); in.Type != "seqpacket" || in.State != "connected" || in.Local != path {
		t.Errorf("accepted: %+v", in)
	}
	send(t, tab, c, "first message")
	send(t, tab, c, "second")
	eventually(t, tab, s, "both messages", func(in sock.Info) bool { return in.RecvQ == len("first message")+len("second") })
	if got := recv(t, tab, s, 5); got != "first" {
		t.Errorf("a short recv = %q; want the start of the first message", got)
	}
	if got := recv(t, tab, s, 100); got != "second" {
		t.Errorf("the next recv = %q; want the second message whole (the rest of the first is gone)", got)
	}
	send(t, tab, s, "reply")
	if got := recv(t, tab, c, 100); got != "reply" {
		t.Errorf("reply = %q", got)
	}
}

// recvFD waits for a descriptor on fd.
func recvFD(t testing.TB, tab *sock.Table, fd int) (int, string, error) {
	t.Helper()
	var nfd int
	var data []byte
	err := tab.Do(context.Background(), fd, sock.Readable, time.Now().Add(patience), func() (err error) {
		nfd, data, err = tab.RecvFD(fd, 100)
		return err
	})
	return nfd, string(data), err
}

// TestSendFD passes a TCP connection over a socket pair: the received
// descriptor is a new number for the same socket, in the table as the
// kernel describes it (inet stream, connected, ESTABLISHED, the same
// addresses), and carries the conversation on after the sender closed its
// own. Data without a descriptor is ENOMSG and kept; passing over TCP or
// with no data is refused.
func TestSendFD(t *testing.T) {
	tab := newTable(t)
	a, b, err := tab.SocketPair("unix", "stream")
	if err != nil {
		t.Fatal(err)
	}
	client, server := pair(t, tab, "inet")
	was := info(t, tab, server)
	if n, err := tab.SendFD(a, server, "conn"); err != nil || n != 4 {
		t.Fatalf("SendFD = %d, %v", n, err)
	}
	tab.Close(server)
	got, data, err := recvFD(t, tab, b)
	if err != nil {
		t.Fatal(err)
	}
	if data != "conn" {
		t.Errorf("data = %q; want conn", data)
	}
	in := info(t, tab, got)
	if in.Domain != "inet" || in.Type != "stream" || in.State != "connected" || in.TCPState != "ESTABLISHED" ||
		in.Local != was.Local || in.Remote != was.Remote {
		t.Errorf("received: %+v; want %+v", in, was)
	}
	send(t, tab, client, "still there?")
	if got := recv(t, tab, got, 100); got != "still there?" {
		t.Errorf("recv on the received descriptor = %q", got)
	}
	if flags, _ := unix.FcntlInt(uintptr(got), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("the received descriptor is not close-on-exec")
	}

	// A listener passes as listening.
	l, _ := listener(t, tab, "inet", "127.0.0.1:0", 4)
	tab.SendFD(a, l, "l")
	gotL, _, err := recvFD(t, tab, b)
	if err != nil {
		t.Fatal(err)
	}
	if in := info(t, tab, gotL); in.State != "listening" || in.TCPState != "LISTEN" {
		t.Errorf("a passed listener: %+v", in)
	}

	send(t, tab, a, "plain")
	_, _, err = recvFD(t, tab, b)
	wantErr(t, err, "ENOMSG", "recvfd")
	if got := recv(t, tab, b, 100); got != "plain" {
		t.Errorf("the data that came without a descriptor = %q; want it kept", got)
	}
	_, err = tab.SendFD(client, a, "x")
	wantErr(t, err, "EOPNOTSUPP", "AF_UNIX")
	_, err = tab.SendFD(a, b, "")
	wantErr(t, err, "EINVAL", "at least one byte")
	_, err = tab.SendFD(a, 999, "x")
	wantErr(t, err, "EBADF")
	tab.Close(a)
	_, _, err = recvFD(t, tab, b)
	if !errors.Is(err, sock.ErrEOF) {
		t.Errorf("recvfd at the end of stream: %v; want EOF", err)
	}
}

// TestRecvFDClosesExtras: a peer that sends several descriptors in one
// message, or one that is not a socket, leaves none behind — the first
// socket joins the table and every other one is closed.
func TestRecvFDClosesExtras(t *testing.T) {
	tab := newTable(t)
	a, b, err := tab.SocketPair("unix", "stream")
	if err != nil {
		t.Fatal(err)
	}
	x, y, _ := tab.SocketPair("unix", "dgram")
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := len(openFDs(t))
	if err := unix.Sendmsg(a, []byte("3"), unix.UnixRights(x, y, int(f.Fd())), nil, 0); err != nil {
		t.Fatal(err)
	}
	got, _, err := recvFD(t, tab, b)
	if err != nil {
		t.Fatal(err)
	}
	if after := len(openFDs(t)); after != before+1 {
		t.Errorf("%d descriptors open after receiving three; want %d (one more)", after, before+1)
	}
	tab.Close(got)
	if err := unix.Sendmsg(a, []byte("f"), unix.UnixRights(int(f.Fd())), nil, 0); err != nil {
		t.Fatal(err)
	}
	_, _, err = recvFD(t, tab, b)
	wantErr(t, err, "ENOTSOCK", "not a socket", "closed")
	if after := len(openFDs(t)); after != before {
		t.Errorf("%d descriptors open after refusing a file; want %d", after, before)
	}
}

// TestPeerCred: both ends of a pair made here name this process; a TCP
// socket has no peer credentials.
func TestPeerCred(t *testing.T) {
	tab := newTable(t)
	a, _, err := tab.SocketPair("unix", "seqpacket")
	if err != nil {
		t.Fatal(err)
	}
	c, err := tab.PeerCred(a)
	if err != nil {
		t.Fatal(err)
	}
	if c.PID != os.Getpid() || c.UID != os.Getuid() || c.GID != os.Getgid() {
		t.Errorf("PeerCred = %+v; want pid %d uid %d gid %d", c, os.Getpid(), os.Getuid(), os.Getgid())
	}
	client, _ := pair(t, tab, "inet")
	_, err = tab.PeerCred(client)
	wantErr(t, err, "EOPNOTSUPP", "AF_UNIX")
}

// TestAdopt: a descriptor already in the table, or not a socket, is refused.
func TestAdopt(t *testing.T) {
	tab := newTable(t)
	fd := socket(t, tab, "inet", "dgram")
	_, err := tab.Adopt("adopt", fd)
	wantErr(t, err, "EEXIST")
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = tab.Adopt("adopt", int(f.Fd()))
	wantErr(t, err, "ENOTSOCK", "not a socket")
}
