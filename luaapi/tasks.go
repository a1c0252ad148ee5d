package luaapi

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/sock"
)

var taskOps = []*Spec{
	{Name: "spawn", Params: params(p("fn", KFunc), opt("args", KRest)), Results: results(KTask),
		Doc: "start fn(ARGS...) as a task running alongside this one", Returns: "the task",
		recorded: true, run: runSpawn}, // the recorder learns which task started which
	{Name: "wait", Params: params(p("task", KTask), opt("timeout", KSeconds)), Results: results(KRest),
		Doc: "wait for a task to end (or a worker process, or all the workers one call started)", Returns: `what the task returned; nil, msg, "ETIMEDOUT"; nil, its error, "ETASK" if it failed`,
		checked: true, recorded: true, run: runWait},
	{Name: "sleep", Params: params(p("seconds", KSeconds)), Results: results(KOK),
		Doc: "pause this task (others go on)", Returns: "true",
		run: runSleep},
	{Name: "now", Results: results(KNum),
		Doc: "the time in seconds, as a float", Returns: "seconds since the epoch",
		run: runNow},
	{Name: "tasks", Results: results(KTaskList),
		Doc: "the running tasks: id, name, state (what each waits on)", Returns: "a list of {id, name, state}",
		run: runTasks},
	{Name: "kill", Params: params(p("task", KTask)), Results: results(KOK),
		Doc: "cancel a task (a worker process, or the workers one call started: SIGTERM)", Returns: "true",
		checked: true, run: runKill},
	{Name: "watch", Params: params(p("on", KOnOff)), Results: results(KOK),
		Doc: "on: tell when a descriptor's TCP state changes or data arrives that nobody reads", Returns: "true",
		run: runWatch},
}

func (rt *Runtime) taskValue(t *Task) *lua.LUserData {
	ud := rt.ls.NewUserData()
	ud.Value = t
	ud.Metatable = rt.taskMeta
	return ud
}

// checkTask accepts a task value or a task number, or a worker handle or
// the list workers returned (whose tasks end with the processes).
func (rt *Runtime) checkTask(L *lua.LState, op string, n int) (*Task, error) {
	if t, _, ok := rt.workerHandle(L.Get(n)); ok {
		return t, nil
	}
	switch x := L.Get(n).(type) {
	case *lua.LUserData:
		if t, ok := x.Value.(*Task); ok {
			return t, nil
		}
	case lua.LNumber:
		if t, ok := rt.s.tasks[int(x)]; ok && x > 0 && float64(x) == float64(int(x)) {
			return t, nil
		}
		return nil, &sock.Error{Op: op, FD: -1, Addr: fmt.Sprintf("task %d", int(x)), Err: unix.ESRCH, Detail: "no such task (tasks lists them)"}
	}
	argError(L, op, n, "a task")
	return nil, nil
}

func runSpawn(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	f := L.Get(1)
	if !callable(L, f) {
		argError(L, "spawn", 1, "a function")
	}
	if f := rt.BeforeWait; f != nil { // tasks share the scheduler: watch signals from now on
		rt.BeforeWait = nil
		f()
	}
	name := funcName(L, f)
	args := make([]lua.LValue, 0, L.GetTop())
	fn, ok := f.(*lua.LFunction)
	if !ok || fn.IsG {
		// A Go function or a callable table runs inside a Lua function:
		// a coroutine's body must be Lua for gopher-lua to report how it
		// ended.
		fn = rt.callWrapper()
		args = append(args, f)
	}
	for i := 2; i <= L.GetTop(); i++ {
		args = append(args, L.Get(i))
	}
	t := rt.newTask(name, fn, args, true)
	t.report = true
	return vals(rt.taskValue(t)), nil
}

// callable reports whether v can be called: a function, or a value whose
// metatable has __call.
func callable(L *lua.LState, v lua.LValue) bool {
	if _, ok := v.(*lua.LFunction); ok {
		return true
	}
	_, ok := L.GetMetaField(v, "__call").(*lua.LFunction)
	return ok
}

// callWrapper returns the Lua function that calls its first argument with
// the rest, compiled once.
func (rt *Runtime) callWrapper() *lua.LFunction {
	if rt.caller == nil {
		rt.caller = rt.function("local function pass(...) return ... end return function(f, ...) return pass(f(...)) end")
	}
	return rt.caller
}

// funcName names a function being spawned as Lua knows it: a local
// variable of the caller that holds it, else a global, else where it was
// defined.
func funcName(L *lua.LState, f lua.LValue) string {
	if dbg, ok := L.GetStack(1); ok {
		for i := 1; ; i++ {
			name, v := L.GetLocal(dbg, i)
			if name == "" {
				break
			}
			if v == f && name[0] != '(' {
				return name
			}
		}
	}
	var global string
	L.G.Global.ForEach(func(k, v lua.LValue) {
		if s, ok := k.(lua.LString); ok && v == f && (global == "" || string(s) < global) {
			global = string(s)
		}
	})
	if global != "" {
		return global
	}
	if fn, ok := f.(*lua.LFunction); ok && !fn.IsG && fn.Proto != nil {
		return fmt.Sprintf("function <%s:%d>", strings.TrimPrefix(fn.Proto.SourceName, "@"), fn.Proto.LineDefined)
	}
	return "function"
}

func runWait(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	t, err := rt.checkTask(L, "wait", 1)
	if err != nil {
		return failure(err), nil
	}
	timeout := optTimeout(L, "wait", 2)
	if t.Done() {
		return taskResults(t), nil
	}
	switch rt.s.cur {
	case t:
		return failure(&sock.Error{Op: "wait", FD: -1, Addr: t.String(), Err: unix.EDEADLK, Detail: "a task cannot wait for itself"}), nil
	case nil:
		return failure(&sock.Error{Op: "wait", FD: -1, Addr: t.String(), Err: unix.EDEADLK, Detail: "only a task can wait for a task"}), nil
	}
	w := &waitReq{kind: waitTask, target: t, op: "wait", fd: -1, addr: t.String()}
	if timeout >= 0 {
		w.deadline = time.Now().Add(timeout)
	}
	t.waiters = append(t.waiters, rt.s.cur)
	return nil, w
}

func runSleep(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	d := optTimeout(L, "sleep", 1)
	if d < 0 {
		argError(L, "sleep", 1, "a number of seconds")
	}
	return nil, &waitReq{kind: waitSleep, deadline: time.Now().Add(d), op: "sleep", fd: -1,
		timedOut: func() []lua.LValue { return vals(lua.LTrue) }}
}

func runNow(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	return rt.ret1(lua.LNumber(float64(time.Now().UnixNano()) / 1e9)), nil
}

func runTasks(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	list := L.NewTable()
	for _, t := range rt.Tasks() {
		if t == rt.s.cur || t.ID <= 0 {
			continue // the caller itself, a script's main chunk, a shell line
		}
		row := L.NewTable()
		row.RawSetString("id", lua.LNumber(t.ID))
		row.RawSetString("name", lua.LString(t.Name))
		row.RawSetString("state", lua.LString(t.State()))
		list.Append(row)
	}
	return vals(list), nil
}

func runKill(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	if _, procs, ok := rt.workerHandle(L.Get(1)); ok {
		signalWorkers(procs, syscall.SIGTERM)
		return rt.ret1(lua.LTrue), nil
	}
	t, err := rt.checkTask(L, "kill", 1)
	if err != nil {
		return failure(err), nil
	}
	if t == rt.s.cur {
		L.RaiseError("killed")
	}
	rt.Cancel(t, false)
	return rt.ret1(lua.LTrue), nil
}

// watcher looks at every descriptor a few times a second and tells when
// its kernel TCP state changes or data waits that nobody reads.
type watcher struct {
	stop  chan struct{}
	state map[int]string
	recvq map[int]int
}

func runWatch(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	on := checkBool(L, "watch", 1)
	if !on {
		if rt.watch != nil {
			close(rt.watch.stop)
			rt.watch = nil
		}
		return rt.ret1(lua.LTrue), nil
	}
	if rt.watch == nil {
		w := &watcher{stop: make(chan struct{}), state: map[int]string{}, recvq: map[int]int{}}
		rt.watch = w
		rt.watchLook(w, false)
		go func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-w.stop:
					return
				case <-tick.C:
					rt.Post(func() { rt.watchLook(w, true) })
				}
			}
		}()
	}
	return rt.ret1(lua.LTrue), nil
}

func (rt *Runtime) watchLook(w *watcher, tell bool) {
	if rt.watch != w {
		return
	}
	seen := map[int]bool{}
	for _, fd := range rt.table.FDs() {
		in, err := rt.table.Info(fd)
		if err != nil {
			continue
		}
		seen[fd] = true
		if old, ok := w.state[fd]; ok && tell && old != in.TCPState && in.TCPState != "" {
			fmt.Fprintf(rt.out, "fd %d: %s -> %s\n", fd, old, in.TCPState)
		}
		if tell && in.RecvQ > w.recvq[fd] && in.TCPState != "LISTEN" && !rt.reading(fd) {
			fmt.Fprintf(rt.out, "fd %d: %d bytes waiting to be received\n", fd, in.RecvQ)
		}
		if tell && in.TCPState == "LISTEN" && in.RecvQ > w.recvq[fd] && !rt.reading(fd) {
			fmt.Fprintf(rt.out, "fd %d: %d connections waiting to be accepted\n", fd, in.RecvQ)
		}
		w.state[fd], w.recvq[fd] = in.TCPState, in.RecvQ
	}
	for fd := range w.state {
		if !seen[fd] {
			delete(w.state, fd)
			delete(w.recvq, fd)
		}
	}
}

// reading reports whether a task waits to read fd.
func (rt *Runtime) reading(fd int) bool {
	for _, t := range rt.s.waiting[fd] {
		if t.wait != nil && t.wait.events&unix.EPOLLIN != 0 {
			return true
		}
	}
	return false
}
