package sock_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"sockshell/internal/lowfd"
	"sockshell/sock"
)

// TestNoLeaks runs a long sequence of failing calls, and some that
// succeed, then CloseAll: the process's descriptors must be exactly those
// open before, nothing more and nothing less.
func TestNoLeaks(t *testing.T) {
	openFDs(t) // let the runtime open what it keeps first
	before := openFDs(t)
	tab := sock.NewTable()
	dir := t.TempDir()
	ctx := context.Background()

	tab.Socket("inet9", "stream")
	tab.Socket("inet", "seqpacket")
	l, _ := tab.Socket("inet", "stream")
	tab.Bind(l, "nowhere")
	tab.Bind(l, "[::1]:0")
	tab.Bind(l, "127.0.0.1:0")
	tab.Bind(l, "127.0.0.1:0") // bound already
	tab.Listen(l, 4)
	addr, _ := tab.Sockname(l)
	l2, _ := tab.Socket("inet", "stream")
	tab.Bind(l2, addr) // in use
	tab.Listen(l2, 1)  // not bound: the kernel picks a port
	tab.Shutdown(l2, "sideways")
	tab.Accept(l2)

	refused, _ := tab.Socket("inet", "stream")
	b, _ := tab.Socket("inet", "stream")
	tab.Bind(b, "127.0.0.1:0")
	baddr, _ := tab.Sockname(b)
	connectErr(tab, refused, baddr, time.Now().Add(patience))
	connectErr(tab, refused, baddr, time.Now().Add(patience)) // again

	c, _ := tab.Socket("inet", "stream")
	connectErr(tab, c, addr, time.Now().Add(patience))
	var conn int
	tab.Do(ctx, l, sock.Readable, time.Now().Add(patience), func() (err error) {
		conn, _, err = tab.Accept(l)
		return err
	})
	tab.Send(c, "abcd")
	tab.Wait(ctx, conn, sock.Readable, time.Now().Add(patience))
	tab.RecvN(conn, 10, 0) // EAGAIN, 4 bytes kept
	tab.Wait(ctx, conn, sock.Readable, time.Now().Add(20*time.Millisecond))
	tab.SetOpt(conn, "nosuch", 1)
	tab.SetOpt(conn, "rcvbuf", -1)
	tab.GetOpt(conn, "nosuch")
	tab.SetOpt(c, "linger", 0)
	tab.Close(c) // reset
	tab.Do(ctx, conn, sock.Readable, time.Now().Add(patience), func() error { _, err := tab.RecvFrame(conn, "u64", 0); return err })
	tab.Do(ctx, conn, sock.Readable, time.Now().Add(patience), func() error { _, err := tab.Recv(conn, 0); return err })
	tab.Send(conn, "x")
	tab.Send(conn, "y")
	tab.Close(c)
	tab.Close(-1)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	tab.Wait(cctx, l, sock.Readable, time.Time{})

	u, _ := tab.Socket("unix", "stream")
	tab.Connect(u, filepath.Join(dir, "none.sock"))
	tab.Bind(u, filepath.Join(dir, "u.sock"))
	u2, _ := tab.Socket("unix", "dgram")
	tab.Bind(u2, filepath.Join(dir, "u.sock")) // in use
	tab.SendTo(u2, "x", filepath.Join(dir, "none.sock"))
	tab.RecvFrom(u2, 10)
	tab.Peername(u2)
	d, _ := tab.Socket("inet6", "dgram")
	tab.SendTo(d, "x", "127.0.0.1:abc")
	tab.Unread(d, []byte("pending"))

	if tab.Len() == 0 {
		t.Fatal("the sequence opened nothing; the test tests nothing")
	}
	tab.CloseAll()
	if tab.Len() != 0 || len(tab.FDs()) != 0 {
		t.Errorf("after CloseAll the table holds %v", tab.FDs())
	}
	sameFDs(t, before)

	// The table works after CloseAll, and closes again cleanly.
	fd, err := tab.Socket("inet", "dgram")
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Wait(ctx, fd, sock.Writable, time.Now().Add(patience)); err != nil {
		t.Errorf("wait after CloseAll: %v", err)
	}
	tab.CloseAll()
	tab.CloseAll()
	if after := openFDs(t); len(after) != len(before) {
		t.Errorf("%d descriptors open, want %d", len(after), len(before))
	}
}

// TestAllow: with Allow set, connect and sendto reach only the listed
// networks; AF_UNIX is not limited.
func TestAllow(t *testing.T) {
	tab := newTable(t)
	l, addr := listener(t, tab, "inet", "127.0.0.1:0", 4)
	l6, addr6 := listener(t, tab, "inet6", "[::]:0", 4)
	tab.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}

	c := socket(t, tab, "inet", "stream")
	err := tab.Connect(c, addr)
	wantErr(t, err, "EACCES", "connect", "127.0.0.1 is outside the networks --allow permits")
	if in := info(t, tab, c); in.State != "created" {
		t.Errorf("a refused connect changed the state to %q", in.State)
	}
	u := socket(t, tab, "inet", "dgram")
	_, err = tab.SendTo(u, "x", addr)
	wantErr(t, err, "EACCES", "sendto")
	// An IPv4 address mapped into IPv6 is judged as the IPv4 address.
	c6 := socket(t, tab, "inet6", "stream")
	port := netip.MustParseAddrPort(addr6).Port()
	mapped := netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), port).String()
	wantErr(t, tab.Connect(c6, mapped), "EACCES", "127.0.0.1 is outside")

	tab.Allow = append(tab.Allow, netip.MustParsePrefix("127.0.0.0/8"))
	connect(t, tab, c, addr)
	connect(t, tab, c6, mapped)
	if _, err := tab.SendTo(u, "x", addr); err != nil {
		t.Error(err)
	}
	accept(t, tab, l)
	accept(t, tab, l6)

	us, uaddr := listener(t, tab, "unix", "@"+unique("allow"), 1)
	dial(t, tab, "unix", uaddr)
	accept(t, tab, us)
}

// TestKeepLowFDs: while fn runs, what it opens lands at FirstPrivateFD or above;
// afterwards the low numbers are free again and nothing is left open.
func TestKeepLowFDs(t *testing.T) {
	tab := newTable(t)
	var inside int
	lowfd.KeepLowFDs(func() {
		inside = socket(t, tab, "inet", "dgram")
	})
	if inside < lowfd.FirstPrivateFD {
		t.Errorf("socket opened inside KeepLowFDs got fd %d, want >= %d", inside, lowfd.FirstPrivateFD)
	}
	if outside := socket(t, tab, "inet", "dgram"); outside >= lowfd.FirstPrivateFD {
		t.Errorf("socket opened afterwards got fd %d, want a low one", outside)
	}
}
