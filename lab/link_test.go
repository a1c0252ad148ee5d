package lab

import (
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newLink builds a lab for a test, or skips the test where the process
// may not make namespaces.
func newLink(t *testing.T, cfg string) *Link {
	t.Helper()
	c, err := Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(c, nil)
	if errors.Is(err, ErrPermission) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// pair connects a TCP socket on host a to a listener on host b and
// returns both ends and how long connect took.
func pair(t *testing.T, l *Link) (c, s int, took time.Duration) {
	t.Helper()
	ln, err := l.Host(1).Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(ln) })
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: AddrB.As4()}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(ln, 1); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(ln)
	c, err = l.Host(0).Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(c) })
	start := time.Now()
	if err := unix.Connect(c, sa); err != nil {
		t.Fatal(err)
	}
	took = time.Since(start)
	s, _, err = unix.Accept(ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(s) })
	return c, s, took
}

func TestDelay(t *testing.T) {
	l := newLink(t, "delay 50ms")
	_, _, took := pair(t, l)
	// connect returns after the SYN and the SYN-ACK: two crossings.
	if took < 100*time.Millisecond || took > 300*time.Millisecond {
		t.Fatalf("connect over a 50 ms link took %v, want 100 ms and a little", took)
	}
	if st := l.Stats(A2B); st.Packets < 1 || st.Delivered < 1 {
		t.Fatalf("a2b counted %+v", st)
	}
	_ = os.Getpid()
}
