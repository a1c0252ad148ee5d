package luaapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
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
}

// maxNesting bounds how deeply coroutines may resume one another (PUC
// Lua's C stack limit is the same). Every pcall is a coroutine (see the
// prelude), and each nested resume is Go stack that gopher-lua does not
// count, so without a bound `local function f() return pcall(f) end` would
// grow it until Go kills the process.
const maxNesting = 200

// memoryPoll is how often the memory limit is checked, and exitGrace how
// long a session has to end by itself once a limit is passed.
const (
	memoryPoll = 50 * time.Millisecond
	exitGrace  = 250 * time.Millisecond
)

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

	// wake is an eventfd that stops the watcher; done is closed when the
	// watcher has returned. The watcher sleeps in poll(2) on wake rather
	// than on a Go timer: the runtime's first timer starts its network
	// poller, whose descriptors would take the numbers kept for sockets.
	wake     int
	done     chan struct{}
	stopped  atomic.Bool
	reported atomic.Bool // a task's error has shown the limit's line
}

// setLimits installs the bounds: on coroutine nesting always, on the
// allocating string functions and the watcher of time and memory as
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
	if cfg.MaxMemory > 0 || cfg.MaxTime > 0 {
		wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
		if err != nil {
			return
		}
		lim.wake, lim.done = lowfd.Private(wake), make(chan struct{})
		go rt.watchLimits(cfg)
	}
}

// stopLimits stops the watcher; it is for Close.
func (rt *Runtime) stopLimits() {
	lim := &rt.lim
	if lim.done == nil || lim.stopped.Swap(true) {
		return
	}
	unix.Write(lim.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	<-lim.done
	unix.Close(lim.wake)
}

// watchLimits runs on a goroutine of its own until the runtime closes,
// ending the session when it passes a limit.
func (rt *Runtime) watchLimits(cfg Limits) {
	defer close(rt.lim.done)
	fds := []unix.PollFd{{Fd: int32(rt.lim.wake), Events: unix.POLLIN}}
	for {
		wait := memoryPoll
		if cfg.MaxMemory == 0 {
			wait = time.Until(rt.start.Add(cfg.MaxTime))
		}
		ms := min(max(int(wait/time.Millisecond), 1), 3600*1000) // poll(2) takes an int32
		if n, err := unix.Poll(fds, ms); n > 0 || err != nil && err != unix.EINTR {
			return // the runtime is closing
		}
		switch {
		case cfg.MaxTime > 0 && time.Since(rt.start) >= cfg.MaxTime:
			rt.passed(cfg, fmt.Sprintf("time limit of %ss exceeded", strconv.FormatFloat(cfg.MaxTime.Seconds(), 'f', -1, 64)))
			return
		// The heap counts garbage not yet swept; only what a collection
		// leaves is the script's.
		case cfg.MaxMemory > 0 && heapBytes() > cfg.MaxMemory:
			runtime.GC()
			if heapBytes() > cfg.MaxMemory {
				rt.passed(cfg, fmt.Sprintf("memory limit of %d MiB exceeded", cfg.MaxMemory>>20))
				return
			}
		}
	}
}

func heapBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// passed ends the session that passed a limit: Lua code running now stops
// at its next instruction (when the runtime can be interrupted), and every
// task fails with msg as it next runs — waiting calls are cut short. If the
// session has not ended by itself after exitGrace, the process exits.
func (rt *Runtime) passed(cfg Limits, msg string) {
	cause := limitError(msg)
	if rt.lim.cancel != nil {
		rt.lim.cancel(cause)
	}
	rt.Post(func() { rt.endTasks(cause) })
	fds := []unix.PollFd{{Fd: int32(rt.lim.wake), Events: unix.POLLIN}}
	for end := time.Now().Add(exitGrace); time.Now().Before(end); {
		if n, _ := unix.Poll(fds, int(time.Until(end)/time.Millisecond)+1); n > 0 {
			return // the session ended by itself
		}
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
