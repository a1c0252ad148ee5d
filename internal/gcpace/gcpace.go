// Package gcpace keeps the peak of a large Go heap near its live size.
//
// Go's collector lets the heap grow by GOGC per cent of what was live
// after the last collection (100: to twice that) before it collects again,
// so a process's peak memory is up to twice its live data. For sockshell
// with thousands of connections open, each a task of a few kilobytes, that
// doubles what a connection costs. Start caps the growth at a fixed number
// of bytes, Headroom, once the live heap is larger than that: a small heap
// keeps Go's default pacing, a large one is collected more often: at most
// 100/MinPercent times as often as Go's default, which costs a script that
// allocates fast over a large live heap up to that much more of the
// collector's CPU time.
package gcpace

import (
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
)

const (
	// Headroom is how far the heap may grow past its live size between
	// collections, once 100% of the live size would be more.
	Headroom = 16 << 20
	// MinPercent is the least growth allowed, in per cent of the live heap.
	MinPercent = 50
)

// Start paces the collector until stop is called, unless GOGC is set (then
// the user's setting stands). Nothing runs until the first collection;
// after each, the pace is set for the next. It is for a program's main:
// the pacing is the process's. Stop leaves the last pace set.
func Start() (stop func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	p := &pacer{last: 100}
	arm(p)
	return func() { p.stopped.Store(true) }
}

// Percent is the GOGC that lets a heap of live bytes grow by Headroom,
// between MinPercent and Go's default of 100.
func Percent(live uint64) int {
	if live <= Headroom {
		return 100
	}
	return max(MinPercent, int(100*Headroom/live))
}

// pacer is the state of Start's pacing. Only its finalizer chain uses it,
// one call at a time, but stopped is set by another goroutine.
type pacer struct {
	last    int
	stopped atomic.Bool
}

// sentinel is garbage as soon as it is made: its finalizer runs after the
// next collection. It holds a pointer so that it is not one of the tiny
// objects the allocator packs together (whose finalizers may never run).
type sentinel struct {
	p *pacer
}

func arm(p *pacer) {
	runtime.SetFinalizer(&sentinel{p}, func(s *sentinel) {
		if !s.p.stopped.Load() {
			s.p.tune()
			arm(s.p)
		}
	})
}

// tune sets the pace for the heap the last collection found live: what is
// allocated just after it, near enough. (runtime/metrics has the exact
// figure, but initialising that package costs every start ~0.15 ms.)
func (p *pacer) tune() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if pc := Percent(ms.HeapAlloc); pc != p.last {
		p.last = pc
		debug.SetGCPercent(pc)
	}
}
