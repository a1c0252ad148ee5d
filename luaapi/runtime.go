package luaapi

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/record"
	"sockshell/sock"
)

// Config says how to build a Runtime. Its zero value is usable: output is
// discarded and calls wait without a default timeout.
type Config struct {
	Stdout, Stderr io.Writer
	// DefaultTimeout bounds every waiting call that has no timeout of its
	// own (10 s in scripts and piped input; none in the interactive shell).
	DefaultTimeout time.Duration
	// Sandbox refuses programs, every file access, closing stdio and os.exit.
	Sandbox bool
	// Realtime makes at() keep the pauses of a recording.
	Realtime bool
	// Allow, when not empty, limits the networks connect and sendto reach.
	Allow []netip.Prefix
	// Interruptible lets Abort stop a task that is running Lua code (a
	// loop that never waits). It costs a check per Lua instruction, so the
	// interactive shell turns it on and scripts do not.
	Interruptible bool
	// Limits bound the session's memory and time (limits.go).
	Limits Limits
	// Stdin is what interact sends when no front-end reads for it
	// (SetTypist): nil for none.
	Stdin io.Reader
	// LadderOnDemand keeps the ladder's log of calls only once a chunk
	// whose text names ladder is loaded (Load, LoadFile), so that a script
	// that never draws one does not pay for it on every call. The shell
	// keeps the log from the start; scripts run on their own set this.
	LadderOnDemand bool
}

// Recorder receives one event per completed operation.
type Recorder interface {
	Write(record.Event) error
}

// Runtime is a Lua state with sockshell's functions, its descriptor table
// and its task scheduler. It is not safe for concurrent use: one goroutine
// calls it, and other goroutines reach it through Post.
type Runtime struct {
	ls    *lua.LState
	table *sock.Table

	out, err    io.Writer
	cfg         Config
	s           scheduler
	marker      *lua.LUserData // what a call yields to the scheduler
	taskMeta    *lua.LTable
	start       time.Time
	rec         Recorder
	failedTasks int
	closed      bool
	preludeDone bool
	raw         *lua.LTable // what the prelude wraps, until it has run
	globalsMeta *lua.LTable
	rets        [3]lua.LValue // results of the call being made: no allocation
	box         boxes
	watch       *watcher
	caller      *lua.LFunction // see callWrapper
	dispatch    *lua.LFunction // see SpawnCommand
	counter     *lua.LFunction // see LoadExpr
	text        lua.LString    // see IsText
	workers     workers        // goroutines of waiting calls (lookup.go)
	lim         limiter        // the state of cfg.Limits (limits.go)
	procs       *workerSet     // see workers.go
	tlog        *trafficLog    // the traffic log, nil when off (trafficlog.go)
	wire        *wireState     // see wire.go
	lab         *labState      // the lab, nil until built (lab.go)
	lad         ladderLog      // the calls and packets ladder draws (ladder.go)
	talk        talkState      // see interact.go
	reported    bool           // the running call reports itself to the recorder (talk.go)

	// BeforeWait, if set, is called once, the first time the scheduler is
	// about to sleep or a task is spawned: a script that never waits is
	// spared what it does.
	BeforeWait func()

	// Hooks for the shell: record and replay are commands of the session.
	OnRecord func(file string) error // "" stops recording
	OnReplay func(file string) error
}

// The registry sizes of a task's coroutine, in slots (see New).
const (
	threadRegistrySize = 16
	threadRegistryGrow = 64
)

// New returns a Runtime with every operation registered as a global Lua
// function.
func New(cfg Config) (*Runtime, error) {
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	L := lua.NewState(lua.Options{
		CallStackSize:       200,
		RegistrySize:        128,
		RegistryMaxSize:     256 * 1024,
		RegistryGrowStep:    128,
		MinimizeStackMemory: true,
	})
	// A task is a coroutine, made with these options: its registry (its
	// value stack) starts small, as most task functions need a few dozen
	// slots, and grows by a step, since each growth copies it. 128 slots were
	// 2 KB, half of a task's memory with 20,000 connections open.
	L.Options.RegistrySize, L.Options.RegistryGrowStep = threadRegistrySize, threadRegistryGrow
	if cfg.Interruptible {
		L.SetContext(context.Background())
	}
	rt := &Runtime{ls: L, table: sock.NewTable(), out: cfg.Stdout, err: cfg.Stderr, cfg: cfg, start: time.Now()}
	rt.lad.on = !cfg.LadderOnDemand
	rt.table.DefaultTimeout = cfg.DefaultTimeout
	rt.table.Allow = cfg.Allow
	if err := rt.s.init(); err != nil {
		L.Close()
		return nil, err
	}
	rt.marker = L.NewUserData()
	rt.taskMeta = stringerMeta(L)
	for _, s := range specs {
		if s.run == nil {
			continue // defined by the prelude
		}
		fn := rt.wrap(s)
		if s.fast != nil {
			fn = s.fast(rt, fn)
		}
		L.SetGlobal(s.Name, L.NewFunction(fn))
	}
	L.SetGlobal("print", L.NewFunction(rt.print))
	if io := L.GetGlobal("io"); io.Type() == lua.LTTable {
		L.SetField(io, "write", L.NewFunction(rt.write))
	}
	openBinary(L)
	rt.loaders()
	rt.lazyPrelude()
	rt.setLimits()
	if cfg.Sandbox {
		if err := rt.loadPrelude(L); err != nil {
			rt.Close()
			return nil, err
		}
		if err := rt.sandbox(); err != nil {
			rt.Close()
			return nil, err
		}
	}
	rt.joinPool()
	return rt, nil
}

// Close closes every socket the session opened and the Lua state.
func (rt *Runtime) Close() {
	if rt.closed {
		return
	}
	rt.closed = true
	if rt.watch != nil {
		close(rt.watch.stop)
		rt.watch = nil
	}
	for _, t := range rt.Tasks() {
		rt.Cancel(t, false)
	}
	rt.stopWire()       // the wire view's goroutine (wire.go)
	rt.stopWorkers()    // worker processes (workers.go)
	rt.stopGoroutines() // lookups, the limits watcher (lookup.go)
	rt.table.CloseAll()
	rt.closeLab() // after the sockets made in its namespaces (lab.go)
	rt.stopLog()
	rt.s.close()
	rt.ls.Close()
}

// SetOutput redirects what print and the shell write.
func (rt *Runtime) SetOutput(out io.Writer) { rt.out = out }

// Out returns where print writes.
func (rt *Runtime) Out() io.Writer { return rt.out }

// SetErrOutput redirects where the runtime reports errors of its own (a
// failed task).
func (rt *Runtime) SetErrOutput(w io.Writer) { rt.err = w }

// IsText reports whether s is the text an operation made to be read, not
// data: the last hexdump, which the shell prints as lines.
func (rt *Runtime) IsText(s lua.LString) bool { return rt.text != "" && s == rt.text }

func (rt *Runtime) errOut() io.Writer { return rt.err }

// ctx is the context of a call that waits where it is (outside any task,
// or where gopher-lua cannot yield): the running task's, which Abort
// cancels, so that Ctrl-C stops such a wait too.
func (rt *Runtime) ctx() context.Context {
	if t := rt.s.cur; t != nil && t.th != nil {
		if ctx := t.th.Context(); ctx != nil {
			return ctx
		}
	}
	return context.Background()
}

// SetRecorder starts (or, with nil, stops) reporting calls to r. A
// recording started in a lab begins by building it (lab with its settings
// now) and, unless the session is on host a, by going to the session's host,
// so that its replay makes its sockets where the session made them.
func (rt *Runtime) SetRecorder(r Recorder) {
	rt.rec = r
	if r == nil || rt.lab == nil {
		return
	}
	rt.emit(specIndex["lab"], rt.s.cur, []record.Value{{Kind: record.Str, V: rt.lab.cfg.String()}}, nil)
	if h := hostName(rt.lab.host); h != "a" {
		rt.emit(specIndex["host"], rt.s.cur, []record.Value{{Kind: record.Str, V: h}}, []lua.LValue{lua.LString(h)})
	}
}

// Recording reports whether a recorder is set.
func (rt *Runtime) Recording() bool { return rt.rec != nil }

// FailedTasks counts spawned tasks that ended with an error.
func (rt *Runtime) FailedTasks() int { return rt.failedTasks }

// SetDefaultTimeout sets the session default timeout.
func (rt *Runtime) SetDefaultTimeout(d time.Duration) { rt.table.DefaultTimeout = d }

//go:embed prelude.lua
var prelude string

// lazyNames are the globals the prelude defines or wraps.
var lazyNames = map[string]bool{"coroutine": true, "pcall": true, "xpcall": true, "dofile": true,
	"strict": true, "fails": true, "replay": true, "proxy": true, "mock": true}

// lazyPrelude puts off compiling the prelude (about a millisecond, most of
// a trivial script's start-up) until a chunk first uses a name it defines:
// those names leave the globals, and a metatable on the globals loads the
// prelude when one is looked up.
func (rt *Runtime) lazyPrelude() {
	L := rt.ls
	g := L.G.Global
	rt.raw = L.NewTable()
	for _, name := range []string{"coroutine", "pcall", "xpcall", "debug", "loadfile"} {
		rt.raw.RawSetString(name, g.RawGetString(name))
	}
	rt.raw.RawSetString("loadreplay", L.NewFunction(rt.wrap(&Spec{Name: "replay", run: runLoadReplay})))
	rt.proxyRaw()
	for name := range lazyNames {
		g.RawSetString(name, lua.LNil)
	}
	meta := L.NewTable()
	meta.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		if name, ok := L.Get(2).(lua.LString); ok && lazyNames[string(name)] && !rt.preludeDone {
			if err := rt.loadPrelude(L); err != nil {
				L.RaiseError("prelude: %s", luaErrorText(err))
			}
			L.Push(L.G.Global.RawGet(name))
			return 1
		}
		return 0
	}))
	L.SetMetatable(g, meta)
	rt.globalsMeta = meta
	// A script that gives the globals a metatable of its own (strict.lua
	// style) must not lose the names: load the prelude first.
	setmetatable := g.RawGetString("setmetatable")
	g.RawSetString("setmetatable", L.NewFunction(func(L *lua.LState) int {
		if L.Get(1) == L.G.Global {
			if err := rt.loadPrelude(L); err != nil {
				L.RaiseError("prelude: %s", luaErrorText(err))
			}
		}
		top := L.GetTop()
		L.Push(setmetatable)
		for i := 1; i <= top; i++ {
			L.Push(L.Get(i))
		}
		L.Call(top, lua.MultRet)
		return L.GetTop() - top
	}))
}

// loadPrelude runs the prelude once, on L (the thread that needs it).
func (rt *Runtime) loadPrelude(L *lua.LState) error {
	if rt.preludeDone {
		return nil
	}
	rt.preludeDone = true
	if L.GetMetatable(L.G.Global) == rt.globalsMeta {
		L.SetMetatable(L.G.Global, lua.LNil)
	}
	fn, err := L.Load(strings.NewReader(compact(prelude+proxyLua)), "=prelude")
	if err != nil {
		return err
	}
	checked := L.NewTable()
	for _, s := range specs {
		if s.checked {
			checked.Append(lua.LString(s.Name))
		}
	}
	L.Push(fn)
	L.Push(rt.marker)
	L.Push(checked)
	L.Push(rt.raw)
	return L.PCall(3, 0, nil)
}

// compact drops the comment lines and indentation of Lua source, which
// gopher-lua's lexer would otherwise read at every start-up. Line numbers
// are kept: a dropped line becomes an empty one.
func compact(src string) string {
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "--") {
			l = ""
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

// print writes its arguments as Lua's print does, to the runtime's output.
func (rt *Runtime) print(L *lua.LState) int {
	var b strings.Builder
	for i := 1; i <= L.GetTop(); i++ {
		if i > 1 {
			b.WriteByte('\t')
		}
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	b.WriteByte('\n')
	io.WriteString(rt.out, b.String())
	return 0
}

func (rt *Runtime) write(L *lua.LState) int {
	var b strings.Builder
	for i := 1; i <= L.GetTop(); i++ {
		v := L.Get(i)
		if v.Type() != lua.LTString && v.Type() != lua.LTNumber {
			L.ArgError(i, "string expected")
		}
		b.WriteString(v.String())
	}
	io.WriteString(rt.out, b.String())
	return 0
}

// failure gives the Lua results of a failed call: nil, message, code.
func failure(err error) []lua.LValue {
	return []lua.LValue{lua.LNil, lua.LString(errText(err)), lua.LString(sock.Code(err))}
}

func errText(err error) string {
	var e *sock.Error
	if errors.As(err, &e) {
		return e.Error()
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return sock.Code(errno) + ": " + errno.Error()
	}
	return err.Error()
}

// luaErrorText returns a Lua error's message without gopher-lua's stack
// traceback, which is not for users.
func luaErrorText(err error) string {
	var ae *lua.ApiError
	if errors.As(err, &ae) && ae.Object != nil {
		return ae.Object.String()
	}
	return err.Error()
}

// ErrorText is luaErrorText for the front-ends.
func ErrorText(err error) string { return luaErrorText(err) }

// stringerMeta returns a metatable for userdata holding a fmt.Stringer (a
// task, a worker): tostring and print show its String.
func stringerMeta(L *lua.LState) *lua.LTable {
	meta := L.NewTable()
	meta.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		if s, ok := L.CheckUserData(1).Value.(fmt.Stringer); ok {
			L.Push(lua.LString(s.String()))
			return 1
		}
		return 0
	}))
	return meta
}

// function compiles src, a chunk that returns a function, and returns
// that function: the small Lua helpers the runtime makes once.
func (rt *Runtime) function(src string) *lua.LFunction {
	chunk, err := rt.Load(src, "=sockshell")
	if err != nil {
		panic(err) // a constant chunk
	}
	rt.ls.Push(chunk)
	rt.ls.Call(0, 1)
	fn := rt.ls.Get(-1).(*lua.LFunction)
	rt.ls.Pop(1)
	return fn
}
