package luaapi

import (
	"fmt"
	"strings"
	"syscall"

	lua "github.com/yuin/gopher-lua"

	"sockshell/internal/lowfd"
)

// The session runner: a script or -e chunk runs as the main task, the
// shell's lines (package repl) as tasks of their own, each with the one
// signal watcher of WatchSignals and one mapping to exit statuses: 0, 1
// for an error (the main task's, a spawned task's, a failed command's),
// 128+signal for a signal.

// SetArgs gives the script Lua's arg table: arg[0] the script, arg[1..]
// its arguments, arg[-1] the program.
func (rt *Runtime) SetArgs(script string, args []string) {
	t := rt.ls.NewTable()
	t.RawSetInt(-1, lua.LString("sockshell"))
	t.RawSetInt(0, lua.LString(script))
	for i, a := range args {
		t.RawSetInt(i+1, lua.LString(a))
	}
	rt.ls.SetGlobal("arg", t)
}

// RunMain runs a chunk or script as the main task, with arg[1..] as its
// arguments, and returns the exit status. When it ends, the other tasks
// are cancelled. A Lua error prints FILE:LINE: message on the runtime's
// error output and gives 1; so does a spawned task that failed. src gives
// the source, read only to name the last line of a syntax error at the end.
//
// Signals end the run cleanly (tasks cancelled, then the caller closes the
// sockets and finishes a recording) with 128+signal. Watching them costs a
// thread and about a millisecond, so the run starts watching when it first
// waits or spawns a task; until then a signal ends the process at once,
// which the kernel cleans up after as well — unless the session is being
// recorded. When Lua code that never waits keeps the scheduler from taking
// a signal, abandon is called with the status (it finishes the recording
// and ends the process).
func (rt *Runtime) RunMain(src func() string, load func() (*lua.LFunction, error), abandon func(status int)) int {
	fn, err := load()
	if err != nil {
		msg := SyntaxErrorText(err, strings.Count(src(), "\n"))
		if msg == strings.TrimSpace(luaErrorText(err)) { // not a syntax error: say who speaks
			msg = "sockshell: " + msg
		}
		fmt.Fprintln(rt.err, msg)
		return 1
	}
	var args []lua.LValue
	if a, ok := rt.ls.GetGlobal("arg").(*lua.LTable); ok {
		for i := 1; i <= a.Len(); i++ {
			args = append(args, a.RawGetInt(i))
		}
	}
	main := rt.Spawn("main", fn, args...)
	interrupted := 0
	stop := func() {}
	watch := func() {
		lowfd.ReservePoller()
		stop = rt.WatchSignals(func(sig syscall.Signal) {
			interrupted = 128 + int(sig)
			rt.Cancel(main, false)
		}, func(sig syscall.Signal, tries int) {
			if abandon != nil {
				abandon(128 + int(sig))
			}
		})
	}
	if rt.Recording() {
		watch()
	} else {
		rt.BeforeWait = watch
	}
	rt.RunUntil(main.Done)
	rt.BeforeWait = nil
	stop()
	for _, t := range rt.Tasks() {
		rt.Cancel(t, false)
	}
	switch {
	case interrupted != 0:
		return interrupted
	case main.Err() != "":
		fmt.Fprintln(rt.err, Printable(main.Err())) // it may hold what a peer sent
		return 1
	case rt.FailedTasks() > 0:
		return 1
	}
	return 0
}
