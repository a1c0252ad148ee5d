package sock_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// patience bounds every wait of the helpers below: far longer than anything
// on loopback takes, so it only ends a test that is really stuck.
const patience = 5 * time.Second

// newTable returns a table that is closed when the test ends, and checks
// then that the test left no descriptor open.
func newTable(t testing.TB) *sock.Table {
	t.Helper()
	noLeaks(t)
	tab := sock.NewTable()
	t.Cleanup(tab.CloseAll)
	return tab
}

// openFDs lists the process's open descriptors with what each one is.
func openFDs(t testing.TB) map[int]string {
	t.Helper()
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	fds := map[int]string{}
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		// The directory's own descriptor is closed by now: skip it. So
		// are the pidfds of programs a test ran (ss): os.Process keeps
		// one until it is released, which may be after a collection.
		if what, err := os.Readlink("/proc/self/fd/" + name); err == nil && what != "anon_inode:[pidfd]" {
			fds[fd] = what
		}
	}
	return fds
}

// noLeaks checks, when the test ends (after cleanups registered later, such
// as CloseAll, have run), that the open descriptors are exactly those open
// now.
func noLeaks(t testing.TB) {
	t.Helper()
	openFDs(t) // let the runtime open what it keeps (its poller) first
	before := openFDs(t)
	t.Cleanup(func() { sameFDs(t, before) })
}

// sameFDs fails the test unless the open descriptors are those of before:
// none left open since, none closed that was open then.
func sameFDs(t testing.TB, before map[int]string) {
	t.Helper()
	after := openFDs(t)
	for fd, what := range after {
		if before[fd] != what {
			t.Errorf("descriptor %d (%s) left open", fd, what)
		}
	}
	for fd, what := range before {
		if _, ok := after[fd]; !ok {
			t.Errorf("descriptor %d (%s) closed, but the test did not open it", fd, what)
		}
	}
}

func socket(t testing.TB, tab *sock.Table, domain, typ string) int {
	t.Helper()
	fd, err := tab.Socket(domain, typ)
	if errors.Is(err, unix.EAFNOSUPPORT) && domain == "inet6" {
		t.Skip("no IPv6 on this machine")
	}
	if err != nil {
		t.Fatalf("socket %s %s: %v", domain, typ, err)
	}
	return fd
}

func bind(t testing.TB, tab *sock.Table, fd int, addr string) string {
	t.Helper()
	err := tab.Bind(fd, addr)
	if errors.Is(err, unix.EADDRNOTAVAIL) && strings.HasPrefix(addr, "[::1]") {
		t.Skip("no IPv6 loopback on this machine")
	}
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	return sockname(t, tab, fd)
}

func sockname(t testing.TB, tab *sock.Table, fd int) string {
	t.Helper()
	a, err := tab.Sockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	return a
}

// listener returns a listening socket bound to addr and its address.
func listener(t testing.TB, tab *sock.Table, domain, addr string, backlog int) (int, string) {
	t.Helper()
	fd := socket(t, tab, domain, "stream")
	a := bind(t, tab, fd, addr)
	if err := tab.Listen(fd, backlog); err != nil {
		t.Fatalf("listen: %v", err)
	}
	return fd, a
}

// connect connects fd to addr, waiting as a blocking connect would.
func connect(t testing.TB, tab *sock.Table, fd int, addr string) {
	t.Helper()
	if err := connectErr(tab, fd, addr, time.Now().Add(patience)); err != nil {
		t.Fatalf("connect: %v", err)
	}
}

func connectErr(tab *sock.Table, fd int, addr string, deadline time.Time) error {
	err := tab.Connect(fd, addr)
	if err != unix.EINPROGRESS {
		return err
	}
	return tab.Do(context.Background(), fd, sock.Writable, deadline, func() error {
		return tab.FinishConnect(fd, addr)
	})
}

// dial returns a new stream socket connected to addr.
func dial(t testing.TB, tab *sock.Table, domain, addr string) int {
	t.Helper()
	fd := socket(t, tab, domain, "stream")
	connect(t, tab, fd, addr)
	return fd
}

// accept waits for a connection on fd and returns it and its peer.
func accept(t testing.TB, tab *sock.Table, fd int) (int, string) {
	t.Helper()
	var nfd int
	var peer unix.Sockaddr
	err := tab.Do(context.Background(), fd, sock.Readable, time.Now().Add(patience), func() (err error) {
		nfd, peer, err = tab.Accept(fd)
		return err
	})
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	return nfd, sock.FormatAddr(peer)
}

// pair returns both ends of a TCP connection over loopback (domain inet
// or inet6) or of an AF_UNIX stream connection (domain unix).
func pair(t testing.TB, tab *sock.Table, domain string) (client, server int) {
	t.Helper()
	addr := map[string]string{"inet": "127.0.0.1:0", "inet6": "[::1]:0", "unix": "@" + unique("pair")}[domain]
	l, a := listener(t, tab, domain, addr, 8)
	client = dial(t, tab, domain, a)
	server, _ = accept(t, tab, l)
	if err := tab.Close(l); err != nil {
		t.Fatal(err)
	}
	return client, server
}

// send writes all of data to fd.
func send(t testing.TB, tab *sock.Table, fd int, data string) {
	t.Helper()
	for len(data) > 0 {
		var n int
		err := tab.Do(context.Background(), fd, sock.Writable, time.Now().Add(patience), func() (err error) {
			n, err = tab.Send(fd, data)
			return err
		})
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		data = data[n:]
	}
}

// recv waits for data on fd and returns at most max bytes of it.
func recv(t testing.TB, tab *sock.Table, fd, max int) string {
	t.Helper()
	var b []byte
	err := tab.Do(context.Background(), fd, sock.Readable, time.Now().Add(patience), func() (err error) {
		b, err = tab.Recv(fd, max)
		return err
	})
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return string(b)
}

// recvN waits for exactly n bytes of fd.
func recvN(t testing.TB, tab *sock.Table, fd, n int) string {
	t.Helper()
	var b []byte
	err := tab.Do(context.Background(), fd, sock.Readable, time.Now().Add(patience), func() (err error) {
		b, err = tab.RecvN(fd, n, 0)
		return err
	})
	if err != nil {
		t.Fatalf("recvn %d: %v", n, err)
	}
	return string(b)
}

func info(t testing.TB, tab *sock.Table, fd int) sock.Info {
	t.Helper()
	in, err := tab.Info(fd)
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	return in
}

// eventually waits until fd's Info satisfies ok, and fails the test with
// the last Info if it does not within patience. The kernel acts
// asynchronously (ACKs, FINs), so states are polled rather than assumed.
func eventually(t testing.TB, tab *sock.Table, fd int, what string, ok func(sock.Info) bool) sock.Info {
	t.Helper()
	end := time.Now().Add(patience)
	for {
		in := info(t, tab, fd)
		if ok(in) {
			return in
		}
		if time.Now().After(end) {
			t.Fatalf("fd %d: waited %v for %s; last info %+v", fd, patience, what, in)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func tcpState(want string) func(sock.Info) bool {
	return func(in sock.Info) bool { return in.TCPState == want }
}

// wantErr checks that err is a *sock.Error with the given code whose text
// contains each of the parts.
func wantErr(t testing.TB, err error, code string, parts ...string) {
	t.Helper()
	var e *sock.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want a *sock.Error with code %s", err, err, code)
	}
	if got := sock.Code(err); got != code {
		t.Errorf("got code %s (%v), want %s", got, err, code)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

// unique returns name with a random suffix, for abstract socket names that
// must not collide with another run.
func unique(name string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "sockshell-test-" + name + "-" + hex.EncodeToString(b)
}
