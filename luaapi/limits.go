package luaapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"sockshell/internal/lowfd"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"
)

// Limits bound what a session may use, so that a runaway script ends with
// one line and exit status 1 instead of a Go crash or the machine's memory.
// The zero value sets none.
type Limits struct {
	// MaxMemory ends the session when the Go heap holds more than this
	// many bytes of live objects; string.rep, table.concat and
	// string.format refuse to make a string larger than it. 0: no limit.
	MaxMemory int64
	// MaxTime ends the session once it has run this long. 0: no limit.
	MaxTime time.Duration
	// Exit ends the process when the session does not end by itself soon
	// after a limit was passed (a script busy in Lua code that cannot be
	// stopped, a shell): it gets the line to print, which is "" when the
	// session has printed it already. nil: print it to Stderr and exit 1.
	Exit func(msg string)
	// Grace is how long the session has to end by itself once a limit is
	// passed, before Exit. 0: exitGrace.
	Grace time.Duration
}

// maxNesting bounds how deeply coroutines may resume one another (PUC
// Lua's C stack limit is the same). Every pcall is a coroutine (see the
// prelude), and each nested resume is Go stack that gopher-lua does not
// count, so without a bound `local function f() return pcall(f) end` would
// grow it until Go kills the process.
const maxNesting = 200

// exitGrace is how long a session has to end by itself once a limit is
// passed, unless Limits.Grace says otherwise.
const exitGrace = 250 * time.Millisecond

// limitError is the cause of a session ended by a limit: its message is
// the line the user sees.
type limitError string

func (e limitError) Error() string { return string(e) }

// limiter is the runtime's state for its Limits.
type limiter struct {
	nesting  int  // coroutine resumes in progress, one inside the other
	overflow bool // the nesting bound was passed: unwinding to the outermost resume
	ended    bool // a limit was passed: the session is ending

	// cancel ends the Lua state's context, which stops Lua code at its
	// next instruction; nil when the runtime is not interruptible.
	cancel context.CancelCauseFunc

	// The watch of the limits is no goroutine of its own: the memory
	// limit is checked by a cleanup that each garbage collection runs,
	// the time limit by a timer. A goroutine that slept in a blocking
	// syscall would hold the only processor (sockshell runs on one) each
	// time it woke and went back to sleep, until Go's monitor took it
	// back, stalling the scheduler's goroutine for up to 10 ms.
	timer    *time.Timer   // the time limit's; nil without one
	stop     chan struct{} // closed by stopLimits: the session has ended
	watching bool          // the watch was started
	stopped  atomic.Bool
	fired    atomic.Bool // a limit was passed; the others are not checked again
	reported atomic.Bool // a task's error has shown the limit's line

	// idleCheck is when the scheduler may next look at the heap before
	// it sleeps (see checkHeapIdle); zero without a memory limit.
	idleCheck time.Time
}

// idleCheckEvery is how often, at most, the scheduler looks at the heap
// before it sleeps.
const idleCheckEvery = 50 * time.Millisecond

// setLimits installs the bounds: on coroutine nesting always, on the
// allocating string functions and the watch of time and memory as
// configured. A session in the sandbox or with a time limit can be stopped
// inside Lua code, at the cost of a check per instruction.
func (rt *Runtime) setLimits() {
	L, lim, cfg := rt.ls, &rt.lim, rt.cfg.Limits
	rt.boundNesting()
	if cfg.MaxMemory > 0 {
		rt.boundAllocations(cfg.MaxMemory)
	}
	if rt.cfg.Interruptible || rt.cfg.Sandbox || cfg.MaxTime > 0 {
		ctx, cancel := context.WithCancelCause(context.Background())
		L.SetContext(ctx)
		lim.cancel = cancel
	}
	if cfg.MaxMemory == 0 && cfg.MaxTime == 0 {
		return
	}
	lim.stop, lim.watching = make(chan struct{}), true
	if cfg.MaxMemory > 0 {
		rt.afterNextGC(cfg)
		lim.idleCheck = rt.start
	}
	if cfg.MaxTime > 0 {
		// The first timer starts Go's network poller, whose descriptors
		// would otherwise take the numbers kept for sockets.
		lowfd.ReservePoller()
		msg := fmt.Sprintf("time limit of %ss exceeded", strconv.FormatFloat(cfg.MaxTime.Seconds(), 'f', -1, 64))
		lim.timer = time.AfterFunc(time.Until(rt.start.Add(cfg.MaxTime)), func() { rt.passed(cfg, msg) })
	}
}

// stopLimits stops the watch; it is for Close.
func (rt *Runtime) stopLimits() {
	lim := &rt.lim
	if !lim.watching || lim.stopped.Swap(true) {
		return
	}
	if lim.timer != nil {
		lim.timer.Stop()
	}
	close(lim.stop)
}

// gcMark is the object whose cleanup runs after the garbage collection
// that finds it unreachable: one is made per cycle. It holds a pointer so
// that it is not packed with other small objects, which would keep it.
type gcMark struct{ _ *int }

// afterNextGC checks the memory limit once the next garbage collection
// has ended, and again after each one until the runtime closes. A
// collection's count of live objects is what the script holds; the
// collector runs when the heap has grown by as much again, or sooner as
// the process nears the limit (see SoftMemoryLimit), so a script that passes
// it is seen as soon as what it holds can be known.
func (rt *Runtime) afterNextGC(cfg Limits) {
	runtime.AddCleanup(&gcMark{}, func(rt *Runtime) {
		switch {
		case rt.lim.stopped.Load() || rt.lim.fired.Load():
		case heapAlloc() > cfg.MaxMemory:
			// What was allocated since the collection counts too:
			// collect again to know.
			go func() {
				runtime.GC()
				if heapAlloc() > cfg.MaxMemory {
					rt.passed(cfg, fmt.Sprintf("memory limit of %d MiB exceeded", cfg.MaxMemory>>20))
				} else {
					rt.afterNextGC(cfg)
				}
			}()
		default:
			rt.afterNextGC(cfg)
		}
	}, rt)
}

// checkHeapIdle is the scheduler's, before it sleeps: a script that grew
// the heap past the limit and then only waits allocates nothing more, so
// no collection would come to check it. If the heap's objects, garbage
// included, are more than the limit, a collection is run now, whose end
// checks what is live. At most every idleCheckEvery: reading the heap's
// size costs a little, a collection much more.
func (rt *Runtime) checkHeapIdle() {
	lim := &rt.lim
	if lim.idleCheck.IsZero() || lim.fired.Load() {
		return
	}
	now := time.Now()
	if now.Before(lim.idleCheck) {
		return
	}
	lim.idleCheck = now.Add(idleCheckEvery)
	if heapAlloc() > rt.cfg.Limits.MaxMemory {
		runtime.GC()
	}
}

// heapAlloc is the size of the heap's objects, garbage not yet collected
// included; just after a collection, what it found live. (runtime/metrics
// has the live size exactly, but initialising that package costs every
// start ~0.15 ms.)
func heapAlloc() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// SoftMemoryLimit is for a process that runs one session under a memory
// limit of max bytes (sockshell itself): it sets the Go runtime's soft
// memory limit to 1.25× max, so that the collector runs, and the limit is
// checked, by the time the process holds that much; without it the heap
// may double past the limit before the next collection. A limit set by
// GOMEMLIMIT is kept. The soft limit is the whole process's, so a program
// that runs several sessions, or other work, should not call it.
func SoftMemoryLimit(max int64) {
	if max > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(max + max/4)
	}
}

// passed ends the session that passed a limit: Lua code running now stops
// at its next instruction (when the runtime can be interrupted), and every
// task fails with msg as it next runs — waiting calls are cut short. If the
// session has not ended by itself after exitGrace, the process exits. It
// runs on a goroutine of its own, once.
func (rt *Runtime) passed(cfg Limits, msg string) {
	if rt.lim.fired.Swap(true) || rt.lim.stopped.Load() {
		return
	}
	cause := limitError(msg)
	if rt.lim.cancel != nil {
		rt.lim.cancel(cause)
	}
	rt.Post(func() { rt.endTasks(cause) })
	lowfd.ReservePoller()
	select {
	case <-rt.lim.stop:
		return // the session ended by itself
	case <-time.After(cmp.Or(cfg.Grace, exitGrace)):
	}
	if rt.lim.reported.Load() {
		msg = ""
	}
	if cfg.Exit != nil {
		cfg.Exit(msg)
		return
	}
	if msg != "" {
		fmt.Fprintln(rt.err, msg)
	}
	os.Exit(1)
}

// endTasks makes every task fail with cause when it next runs Lua code.
func (rt *Runtime) endTasks(cause error) {
	rt.lim.ended = true
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	for _, t := range rt.Tasks() {
		if t.th != nil {
			t.th.SetContext(ctx)
		}
		if t.status == taskWaiting && t.wait != nil {
			rt.wake(t, t.wait.fail(unix.EINTR, cause.Error()))
		}
	}
}

// failureText is the message of a task that failed with err: the limit it
// passed, "interrupted" when Abort stopped it, else the Lua error's own.
// (A thread's context is also cancelled when it dies of any error, so the
// context alone does not say the task was interrupted: the error does.)
func (rt *Runtime) failureText(t *Task, err error) string {
	msg := luaErrorText(err)
	if t.th != nil {
		if ctx := t.th.Context(); ctx != nil && ctx.Err() != nil {
			var limit limitError
			if errors.As(context.Cause(ctx), &limit) {
				// One line says why the session ended: the main task's
				// (or the shell line's) error, else Exit's.
				if t.report {
					t.report = false
				} else {
					rt.lim.reported.Store(true)
				}
				return limit.Error()
			}
			if t.aborted.Load() || strings.HasSuffix(msg, context.Canceled.Error()) {
				return "interrupted"
			}
		}
	}
	if msg == "lua callstack overflow" { // gopher-lua's panic at its call-frame limit
		return "stack overflow"
	}
	return msg
}

// boundNesting wraps the coroutine.resume that the prelude's pcall,
// xpcall and coroutine functions call, so that resumes nest at most
// maxNesting deep. Passing the bound fails the whole task with "stack
// overflow": the error passes through every pcall on the way out, which
// would otherwise catch it and let the recursion go on.
func (rt *Runtime) boundNesting() {
	co, ok := rt.raw.RawGetString("coroutine").(*lua.LTable)
	if !ok {
		return
	}
	resume, ok := co.RawGetString("resume").(*lua.LFunction)
	if !ok || !resume.IsG {
		return
	}
	lim := &rt.lim
	run := func(L *lua.LState) int {
		lim.nesting++
		defer func() { lim.nesting-- }()
		return resume.GFunction(L)
	}
	co.RawSetString("resume", rt.ls.NewFunction(func(L *lua.LState) int {
		if lim.nesting == 0 {
			lim.overflow = false // an earlier overflow has been dealt with
		}
		if lim.nesting >= maxNesting {
			lim.overflow = true
			L.Error(lua.LString("stack overflow"), 0)
		}
		n := run(L)
		if lim.overflow {
			L.Error(lua.LString("stack overflow"), 0)
		}
		return n
	}))
}

// boundAllocations wraps the library functions that make a string of a
// size their arguments choose, refusing one larger than limit before it is
// allocated: string.rep("x", 2^40) would otherwise end the process.
func (rt *Runtime) boundAllocations(limit int64) {
	L := rt.ls
	tooBig := func(L *lua.LState, fn string, size int64) {
		raise(L, "memory limit of %d MiB exceeded (%s of %d bytes)", limit>>20, fn, size)
	}
	wrap := func(lib, name string, size func(L *lua.LState) int64) {
		t, ok := L.GetGlobal(lib).(*lua.LTable)
		if !ok {
			return
		}
		fn, ok := t.RawGetString(name).(*lua.LFunction)
		if !ok || !fn.IsG {
			return
		}
		t.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			if n := size(L); n > limit {
				tooBig(L, lib+"."+name, n)
			}
			return fn.GFunction(L)
		}))
	}
	wrap("string", "rep", func(L *lua.LState) int64 {
		s, n := int64(len(L.CheckString(1))), int64(L.CheckInt(2))
		if s == 0 || n <= 0 {
			return 0
		}
		if n > math.MaxInt64/s {
			return math.MaxInt64
		}
		return n * s
	})
	wrap("table", "concat", func(L *lua.LState) int64 {
		t := L.CheckTable(1)
		sep := int64(len(L.OptString(2, "")))
		i, j := L.OptInt(3, 1), L.OptInt(4, t.Len())
		var size int64
		for k := i; k <= j && size <= limit; k++ {
			if s, ok := t.RawGetInt(k).(lua.LString); ok {
				size += int64(len(s))
			} else {
				size += 24 // a number
			}
			if k < j {
				size += sep
			}
		}
		return size
	})
	wrap("string", "format", func(L *lua.LState) int64 {
		size := formatWidths(L.CheckString(1))
		for i := 2; i <= L.GetTop(); i++ {
			if s, ok := L.Get(i).(lua.LString); ok {
				size += int64(len(s))
			}
		}
		return size
	})
}

// formatWidths adds up a format's length and the widths and precisions of
// its conversions: what they pad their results to.
func formatWidths(f string) int64 {
	size := int64(len(f))
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		for i < len(f) && (f[i] == '.' || '0' <= f[i] && f[i] <= '9') {
			j := i
			for i < len(f) && '0' <= f[i] && f[i] <= '9' {
				i++
			}
			if n, err := strconv.ParseInt(f[j:i], 10, 64); err == nil {
				size += n
			}
			if i < len(f) && f[i] == '.' {
				i++
			}
		}
	}
	return size
}

// LimitPassed reports whether the session passed --max-time or
// --max-memory and is ending: the shell reads no more lines.
func (rt *Runtime) LimitPassed() bool { return rt.lim.ended }
