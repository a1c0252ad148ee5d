package lab

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
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
}

// udpPair is a UDP socket on host a connected to one on host b.
func udpPair(t *testing.T, l *Link) (a, b int) {
	t.Helper()
	var fds [2]int
	for i, addr := range []netip.Addr{AddrA, AddrB} {
		fd, err := l.Host(i).Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: addr.As4(), Port: 7000}); err != nil {
			t.Fatal(err)
		}
		fds[i] = fd
	}
	if err := unix.Connect(fds[0], &unix.SockaddrInet4{Addr: AddrB.As4(), Port: 7000}); err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptTimeval(fds[1], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
	sent[fds[0]] = 0
	return fds[0], fds[1]
}

// sent counts the datagrams send wrote on each socket (the tests run one
// at a time).
var sent = map[int]int64{}

func send(t *testing.T, fd int, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		if _, err := unix.Write(fd, []byte(m)); err != nil {
			t.Fatal(err)
		}
		sent[fd]++
	}
}

// received returns the datagrams b got once the link has taken every one
// a sent and holds none: waiting on the link, not on a quiet spell, so
// that a loaded machine's pauses do not cut it short.
func received(t *testing.T, l *Link, a, b int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.dirs[A2B].mu.Lock()
		held := len(l.dirs[A2B].held)
		l.dirs[A2B].mu.Unlock()
		if held == 0 && l.Stats(A2B).Packets >= sent[a] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the link still holds %d packets, has taken %+v of %d", held, l.Stats(A2B), sent[a])
		}
		time.Sleep(time.Millisecond)
	}
	var got []string
	buf := make([]byte, 2048)
	for {
		n, err := unix.Read(b, buf) // SO_RCVTIMEO: what the kernel has yet to hand over
		if err != nil {
			return got
		}
		got = append(got, string(buf[:n]))
	}
}

// TestDupAndLoss: dup 100% delivers each datagram twice; loss 100% none;
// the same seed loses the same datagrams.
func TestDupAndLoss(t *testing.T) {
	l := newLink(t, "dup 100%")
	a, b := udpPair(t, l)
	send(t, a, "1", "2")
	if got := strings.Join(received(t, l, a, b), " "); got != "1 1 2 2" {
		t.Errorf("dup 100%%: got %q, want 1 1 2 2", got)
	}
	lost := func(seed string) string {
		c, _ := Parse("loss 50% seed " + seed)
		l.Set(c)
		var msgs []string
		for i := range 20 {
			msgs = append(msgs, strconv.Itoa(i))
		}
		send(t, a, msgs...)
		return strings.Join(received(t, l, a, b), " ")
	}
	first, again, other := lost("7"), lost("8"), lost("7")
	if first != other || first == again || len(strings.Fields(first)) > 18 || len(strings.Fields(first)) < 2 {
		t.Errorf("loss 50%%: seed 7 %q, seed 8 %q, seed 7 again %q", first, again, other)
	}
	st := l.Stats(A2B)
	if st.Duplicated != 2 || st.Lost != 60-int64(len(strings.Fields(first))*2+len(strings.Fields(again))) {
		t.Errorf("counters %+v", st)
	}
}

// TestDrop: drop takes the next data packets only, as many as asked.
func TestDrop(t *testing.T) {
	l := newLink(t, "")
	a, b := udpPair(t, l)
	l.Drop(A2B, 2)
	send(t, a, "1", "2", "3")
	if got := strings.Join(received(t, l, a, b), " "); got != "3" {
		t.Errorf("drop 2: got %q, want 3", got)
	}
}

// TestRateAndQueue: at 1 Mbit/s, 20 datagrams of 1000 bytes take 160 ms
// to send; with a queue of 5 a burst of 20 loses all but about 5, counted.
func TestRateAndQueue(t *testing.T) {
	l := newLink(t, "rate 1mbit")
	a, b := udpPair(t, l)
	payload := strings.Repeat("x", 972) // 1000 bytes with the headers
	start := time.Now()
	for range 20 {
		send(t, a, payload)
	}
	got := received(t, l, a, b)
	took := time.Since(start) - 100*time.Millisecond // received's last read waits 100 ms
	if len(got) != 20 || took < 150*time.Millisecond || took > time.Second {
		t.Errorf("rate 1mbit: %d datagrams in %v, want 20 in 160 ms", len(got), took)
	}
	c, _ := Parse("rate 1mbit queue 5")
	l.Set(c)
	for range 20 {
		send(t, a, payload)
	}
	got = received(t, l, a, b)
	if st := l.Stats(A2B); len(got) < 5 || len(got) > 7 || st.QueueFull != int64(20-len(got)) {
		t.Errorf("queue 5: %d datagrams through, counters %+v", len(got), st)
	}
}

// TestReorder: a datagram held back arrives after the one behind it.
func TestReorder(t *testing.T) {
	l := newLink(t, "")
	a, b := udpPair(t, l)
	c, _ := Parse("reorder 100%")
	l.Set(c)
	send(t, a, "1")
	for l.Stats(A2B).Packets == 0 { // the link has taken it
		time.Sleep(time.Millisecond)
	}
	l.Set(NewConfig())
	send(t, a, "2")
	if got := strings.Join(received(t, l, a, b), " "); got != "2 1" {
		t.Errorf("got %q, want 2 1", got)
	}
}

// TestParse: the words --lab takes, per direction, and what is wrong
// with bad ones.
func TestParse(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"delay 100ms loss 5%", "delay 100ms loss 5%"},
		{"delay 0.1 loss 0.05 jitter 10ms", "delay 100ms jitter 10ms loss 5%"},
		{"rate 10mbit queue 50 dup 1% reorder 2%", "dup 1% reorder 2% rate 10mbit queue 50"},
		{"delay 10ms a2b loss 10% seed 3", "a2b delay 10ms loss 10% b2a delay 10ms seed 3"},
		{"b2a rate 1500000 both delay 1s", "a2b delay 1s b2a delay 1s rate 1500kbit"},
		{"", "delay 0s"},
		{"delay", "delay needs a value"},
		{"delay x", `bad delay "x": expected seconds (0.1) or a duration (100ms)`},
		{"delay 2m", `bad delay "2m": expected from 0 to 60s`},
		{"loss 150%", `bad loss "150%": expected a fraction from 0 to 1 (0.05) or a percentage (5%)`},
		{"rate fast", `bad rate "fast": expected bits per second (1000000) or with a unit (100kbit, 10mbit)`},
		{"rate 1kbit", `bad rate "1kbit": at least 8kbit (a full packet a second and a half)`},
		{"queue 0", `bad queue "0": expected packets from 1 to 8192`},
		{"seed -1", `bad seed "-1": expected a whole number`},
		{"speed 1", `unknown setting "speed": expected delay, jitter, loss, dup, reorder, rate, queue, seed (a2b or b2a for one direction)`},
	} {
		cfg, err := Parse(c.in)
		got := cfg.String()
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("Parse(%q): %s, want %s", c.in, got, c.want)
		}
		if err == nil {
			again, err := Parse(got)
			if err != nil || again != cfg {
				t.Errorf("Parse(%q) again: %+v, %v; want %+v", got, again, err, cfg)
			}
		}
	}
}

// TestHeldBound: a flood over a long delay is held up to maxHeld packets;
// the rest are dropped and counted, and what was held arrives.
func TestHeldBound(t *testing.T) {
	defer func(n int) { maxHeld = n }(maxHeld)
	maxHeld = 50
	l := newLink(t, "delay 150ms")
	a, b := udpPair(t, l)
	for i := range 200 {
		send(t, a, strconv.Itoa(i))
	}
	for l.Stats(A2B).Packets < 200 {
		time.Sleep(time.Millisecond)
	}
	st := l.Stats(A2B)
	l.dirs[A2B].mu.Lock()
	held := len(l.dirs[A2B].held)
	l.dirs[A2B].mu.Unlock()
	if held != 50 || st.QueueFull != 150 {
		t.Errorf("held %d, counters %+v; want 50 held, 150 dropped", held, st)
	}
	if got := received(t, l, a, b); len(got) != 50 || got[0] != "0" || got[49] != "49" {
		t.Errorf("received %q, want 0 to 49", got)
	}
}
