package sock_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// generous bounds how late a timeout or a cancellation may come back. It is
// far above any real delay: the tests check that waits end, not how fast.
const generous = 2 * time.Second

// TestWaitTimeout: a wait with a deadline returns ETIMEDOUT once it has
// passed, not before.
func TestWaitTimeout(t *testing.T) {
	tab := newTable(t)
	a, _ := pair(t, tab, "inet")
	for _, d := range []time.Duration{0, 10 * time.Millisecond, 150 * time.Millisecond} {
		start := time.Now()
		deadline := start.Add(d)
		err := tab.Wait(context.Background(), a, sock.Readable, deadline)
		elapsed := time.Since(start)
		if !errors.Is(err, unix.ETIMEDOUT) || sock.Code(err) != "ETIMEDOUT" {
			t.Errorf("wait %v: %v, want ETIMEDOUT", d, err)
		}
		if time.Now().Before(deadline) || elapsed > d+generous {
			t.Errorf("wait %v returned after %v", d, elapsed)
		}
	}
	// Do gives the same, and its try ran once before waiting.
	tries := 0
	start := time.Now()
	err := tab.Do(context.Background(), a, sock.Readable, start.Add(50*time.Millisecond), func() error {
		tries++
		_, err := tab.Recv(a, 10)
		return err
	})
	if !errors.Is(err, unix.ETIMEDOUT) || tries < 1 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("do: %v after %d tries and %v", err, tries, time.Since(start))
	}
}

// TestWaitReady: readiness ends a wait at once, with no error.
func TestWaitReady(t *testing.T) {
	tab := newTable(t)
	a, b := pair(t, tab, "unix")
	if err := tab.Wait(context.Background(), a, sock.Writable, time.Now().Add(generous)); err != nil {
		t.Errorf("writable: %v", err)
	}
	send(t, tab, b, "x")
	if err := tab.Wait(context.Background(), a, sock.Readable, time.Now().Add(generous)); err != nil {
		t.Errorf("readable: %v", err)
	}
	// A zero deadline means no deadline.
	if err := tab.Wait(context.Background(), a, sock.Readable, time.Time{}); err != nil {
		t.Errorf("readable, no deadline: %v", err)
	}
	if got := recv(t, tab, a, 10); got != "x" {
		t.Errorf("recv %q", got)
	}
	// Data arriving while we wait wakes us. The writer uses the bare
	// descriptor, not the table, which belongs to this goroutine.
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(20 * time.Millisecond)
		unix.Write(b, []byte("y"))
	}()
	defer func() { <-done }()
	start := time.Now()
	if err := tab.Wait(context.Background(), a, sock.Readable, time.Now().Add(generous)); err != nil || time.Since(start) < 10*time.Millisecond {
		t.Errorf("waiting for data: %v after %v", err, time.Since(start))
	}
	if got := recv(t, tab, a, 10); got != "y" {
		t.Errorf("recv %q", got)
	}
}

// TestWaitCancel: cancelling the context ends a wait with EINTR promptly,
// whether it comes during the wait or before it; the descriptor stays.
func TestWaitCancel(t *testing.T) {
	tab := newTable(t)
	a, b := pair(t, tab, "inet")

	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(30*time.Millisecond, cancel)
	defer timer.Stop()
	start := time.Now()
	err := tab.Wait(ctx, a, sock.Readable, time.Now().Add(10*generous)) // a bound, so a broken Wait fails instead of hanging
	if !errors.Is(err, unix.EINTR) || sock.Code(err) != "EINTR" || time.Since(start) > generous {
		t.Errorf("cancelled wait: %v after %v, want EINTR", err, time.Since(start))
	}

	start = time.Now()
	err = tab.Do(ctx, a, sock.Readable, time.Now().Add(10*generous), func() error {
		_, err := tab.Recv(a, 10)
		return err
	})
	if !errors.Is(err, unix.EINTR) || time.Since(start) > generous {
		t.Errorf("do with a cancelled context: %v after %v, want EINTR", err, time.Since(start))
	}

	// The table and the socket are fine afterwards.
	send(t, tab, b, "still here")
	if got := recvN(t, tab, a, 10); got != "still here" {
		t.Errorf("recv after cancel: %q", got)
	}
	err = tab.Wait(context.Background(), a, sock.Readable, time.Now().Add(30*time.Millisecond))
	if !errors.Is(err, unix.ETIMEDOUT) {
		t.Errorf("a wait after a cancelled one: %v, want ETIMEDOUT", err)
	}
}

// TestWaitAfterCancelDoesNotSpin: a cancellation that lands as a wait
// ends for another reason must not leave the wake-up pending, which would
// make every later wait on the table poll in a busy loop.
func TestWaitAfterCancelDoesNotSpin(t *testing.T) {
	tab := newTable(t)
	a, _ := pair(t, tab, "unix")
	const d = 150 * time.Millisecond
	for range 3 { // the race below is likely, not certain: give it three chances
		// Cancelled and out of time at once: Wait returns at its first
		// check, while the context's wake-up (a goroutine AfterFunc
		// started) is still on its way. With one P that goroutine is
		// unlikely to run before Wait is done.
		procs := runtime.GOMAXPROCS(1)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		tab.Wait(ctx, a, sock.Readable, time.Now())
		runtime.GOMAXPROCS(procs)
		time.Sleep(20 * time.Millisecond) // let the late wake-up land

		before := cpuTime(t)
		start := time.Now()
		err := tab.Wait(context.Background(), a, sock.Readable, start.Add(d))
		if !errors.Is(err, unix.ETIMEDOUT) || time.Since(start) < d {
			t.Fatalf("wait: %v after %v, want ETIMEDOUT after %v", err, time.Since(start), d)
		}
		// An idle wait costs next to no CPU; a busy loop costs all of d.
		if used := cpuTime(t) - before; used > d/2 {
			t.Fatalf("a %v wait on an idle socket used %v of CPU: it polled in a loop", d, used)
		}
	}
}

func cpuTime(t *testing.T) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestDeadline: a call's own timeout, else the descriptor's, else the
// table's default; none at all is the zero time.
func TestDeadline(t *testing.T) {
	tab := newTable(t)
	fd := socket(t, tab, "inet", "stream")
	near := func(got time.Time, d time.Duration) bool {
		want := time.Now().Add(d)
		return !got.IsZero() && got.Sub(want) < time.Second && want.Sub(got) < time.Second
	}
	if got := tab.Deadline(fd, -1); !got.IsZero() {
		t.Errorf("no timeout anywhere: %v, want zero", got)
	}
	tab.DefaultTimeout = 10 * time.Second
	if got := tab.Deadline(fd, -1); !near(got, 10*time.Second) {
		t.Errorf("table default: %v", got)
	}
	e, err := tab.Get("settimeout", fd)
	if err != nil {
		t.Fatal(err)
	}
	e.Timeout, e.HasTimeout = 100*time.Second, true
	if got := tab.Deadline(fd, -1); !near(got, 100*time.Second) {
		t.Errorf("descriptor's own: %v", got)
	}
	if got := tab.Deadline(fd, 1000*time.Second); !near(got, 1000*time.Second) {
		t.Errorf("call's own: %v", got)
	}
	// A call's own timeout of 0 is "now + 0", as documented: try once,
	// do not wait. (The zero time would mean waiting without end.)
	if got := tab.Deadline(fd, 0); !near(got, 0) {
		t.Errorf("call's own timeout 0: %v, want now", got)
	}
	// An unknown descriptor falls back to the default.
	if got := tab.Deadline(12345, -1); !near(got, 10*time.Second) {
		t.Errorf("unknown fd: %v", got)
	}
}
