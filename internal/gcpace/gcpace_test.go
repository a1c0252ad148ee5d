package gcpace

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{Headroom, 100},        // doubling is no more than the headroom
		{Headroom * 3 / 2, 66}, // the heap may grow by Headroom
		{Headroom * 2, 50},     //
		{Headroom * 100, 50},   // never below MinPercent
	} {
		if got := Percent(c.live); got != c.want {
			t.Errorf("Percent(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// TestStart holds a live heap of three times the headroom and checks that,
// after collections, the collector's percentage is the one Percent gives.
func TestStart(t *testing.T) {
	t.Setenv("GOGC", "") // a GOGC of the caller's would turn the pacing off
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	stop := Start()
	defer stop()
	live := make([][]byte, 0, 3*Headroom>>16)
	for range cap(live) {
		live = append(live, make([]byte, 1<<16))
	}
	want := Percent(3 * Headroom)
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the finalizer runs after the collection
		got := debug.SetGCPercent(100)
		debug.SetGCPercent(got)
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GC percent %d with %d MiB live, want %d", got, 3*Headroom>>20, want)
		}
	}
	runtime.KeepAlive(live)
}

func TestStartLeavesGOGC(t *testing.T) {
	t.Setenv("GOGC", "200")
	defer debug.SetGCPercent(debug.SetGCPercent(200))
	defer Start()()
	big := make([]byte, 4*Headroom)
	runtime.GC()
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if got := debug.SetGCPercent(200); got != 200 {
		t.Errorf("GC percent %d with GOGC=200 set, want it left alone", got)
	}
	runtime.KeepAlive(big)
}
