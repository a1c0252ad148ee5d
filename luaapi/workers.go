package luaapi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/internal/lowfd"
	"sockshell/sock"
)

// Worker processes: the seed's pre-fork process pool as calls the user
// sees. workers(N, SCRIPT, FDS, ARGS...) starts N sockshell processes (this
// same binary) running SCRIPT; each inherits the descriptors FDS at their
// own numbers, as fork and exec hand them down, and adopts them into its
// table. A worker knows its number from the global worker (1..N). Its
// output comes back through pipes, each line prefixed with "[N] ". A
// worker ends when its script does; the session ending (its main task,
// a signal, the shell's exit) stops every worker it started: SIGTERM, then
// SIGKILL for one that is still there after stopGrace. The kernel sends a
// worker SIGTERM if its parent dies first (PR_SET_PDEATHSIG).
//
// Workers are started with syscall.ForkExec, not os/exec: ExtraFiles takes
// *os.File values, whose Fd puts the descriptor in blocking mode — and a
// passed socket shares its open file, and so its O_NONBLOCK, with the
// parent's copy, which must stay non-blocking. ForkExec's Files are plain
// numbers, placed at their index in the child as ExtraFiles would.

// The environment a worker is started with. joinPool reads and removes
// them, so that programs the worker starts do not take them for their own.
const (
	envWorker  = "SOCKSHELL_WORKER"  // its number, 1..N
	envWorkers = "SOCKSHELL_WORKERS" // N
	envInherit = "SOCKSHELL_INHERIT" // the inherited descriptors: "3,5"
)

// stopGrace is how long a worker has to end on SIGTERM when the session
// stops it, before SIGKILL.
const stopGrace = 2 * time.Second

// drainGrace bounds how long the output of a worker that has ended is read:
// a program it started may hold its pipes open.
const drainGrace = time.Second

// worker is one worker process.
type worker struct {
	n, pid int
	task   *Task         // ends when the process has ended and its output is read
	ended  chan struct{} // closed then, on the reaper's goroutine
}

func (w *worker) String() string { return fmt.Sprintf("worker %d (pid %d)", w.n, w.pid) }

// pool is the workers one call started; its task ends when all of theirs have.
type pool struct {
	workers []*worker
	task    *Task
	left    int
	failed  []string
}

func (p *pool) String() string {
	return fmt.Sprintf("workers 1-%d", len(p.workers))
}

// workerSet is a session's worker processes.
type workerSet struct {
	live     map[*worker]bool
	meta     *lua.LTable // of worker handles
	poolMeta *lua.LTable // of the list workers returns
	pools    map[*lua.LTable]*pool
	wg       sync.WaitGroup // the reapers
	exe      string
	exeErr   error
}

func (rt *Runtime) workerSet() *workerSet {
	if rt.procs != nil {
		return rt.procs
	}
	ws := &workerSet{live: map[*worker]bool{}, pools: map[*lua.LTable]*pool{}}
	L := rt.ls
	ws.meta = stringerMeta(L)
	ws.meta.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		w, ok := L.CheckUserData(1).Value.(*worker)
		if !ok {
			return 0
		}
		switch L.CheckString(2) {
		case "n":
			L.Push(lua.LNumber(w.n))
		case "pid":
			L.Push(lua.LNumber(w.pid))
		case "done":
			L.Push(lua.LBool(w.task.Done()))
		default:
			L.Push(lua.LNil)
		}
		return 1
	}))
	ws.poolMeta = L.NewTable()
	ws.poolMeta.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		if p, ok := ws.pools[L.CheckTable(1)]; ok {
			L.Push(lua.LString(p.String()))
			return 1
		}
		return 0
	}))
	rt.procs = ws
	return ws
}

// handle returns the task behind a worker handle or the list workers
// returned, and the processes it stands for.
func (rt *Runtime) workerHandle(v lua.LValue) (*Task, []*worker, bool) {
	if rt.procs == nil {
		return nil, nil, false
	}
	switch x := v.(type) {
	case *lua.LUserData:
		if w, ok := x.Value.(*worker); ok {
			return w.task, []*worker{w}, true
		}
	case *lua.LTable:
		if p, ok := rt.procs.pools[x]; ok {
			return p.task, p.workers, true
		}
	}
	return nil, nil, false
}

// internalTask makes a task that runs no Lua: it stands for something
// else that ends (a worker process), so that wait works on it as on any.
func (rt *Runtime) internalTask(name string) *Task {
	s := &rt.s
	id := s.nextInternal
	s.nextInternal--
	s.made++
	return &Task{ID: id, Name: name, status: taskWaiting, order: s.made}
}

func runWorkers(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	rt.refuseInSandbox(L, "workers", "a worker is a process of its own")
	n := checkInt(L, "workers", 1, "a number of workers")
	script := checkString(L, "workers", 2, "a script (a file name)")
	var passed []int
	switch x := L.Get(3).(type) {
	case *lua.LNilType:
	case lua.LNumber:
		passed = append(passed, checkFD(L, "workers", 3))
	case *lua.LTable:
		for i := 1; i <= x.Len(); i++ {
			fd, ok := intArg(x.RawGetInt(i))
			if !ok {
				raise(L, "workers: EINVAL: bad argument #3: expected a list of descriptors, item %d is %s", i, describe(x.RawGetInt(i)))
			}
			passed = append(passed, fd)
		}
	default:
		argError(L, "workers", 3, "a list of descriptors to pass (or nil)")
	}
	var args []string
	for i := 4; i <= L.GetTop(); i++ {
		args = append(args, checkString(L, "workers", i, "an argument (a string)"))
	}
	list, err := rt.StartWorkers(n, script, passed, args)
	if err != nil {
		return failure(err), nil
	}
	return vals(list), nil
}

// StartWorkers starts n workers running script with args, each inheriting
// the descriptors passed, and returns the list of their handles.
func (rt *Runtime) StartWorkers(n int, script string, passed []int, args []string) (*lua.LTable, error) {
	if n < 1 || n > 256 {
		return nil, sock.Invalid("workers", -1, "bad number of workers %d: expected 1 to 256", n)
	}
	if _, err := os.Stat(script); err != nil {
		return nil, &sock.Error{Op: "workers", FD: -1, Addr: script, Err: errnoOf(err)}
	}
	for _, fd := range passed {
		if _, err := rt.table.Get("workers", fd); err != nil {
			return nil, err
		}
		if fd >= lowfd.FirstPrivateFD {
			return nil, sock.Invalid("workers", fd, "descriptor %d is too high to hand down (below %d)", fd, lowfd.FirstPrivateFD)
		}
	}
	ws := rt.workerSet()
	if ws.exe == "" && ws.exeErr == nil {
		ws.exe, ws.exeErr = os.Executable()
	}
	if ws.exeErr != nil {
		return nil, &sock.Error{Op: "workers", FD: -1, Err: unix.ENOENT, Detail: "cannot find sockshell's own binary: " + ws.exeErr.Error()}
	}
	lowfd.ReservePoller() // the output pipes are read through Go's poller
	p := &pool{left: n}
	p.task = rt.internalTask(fmt.Sprintf("workers 1-%d", n))
	list := rt.ls.NewTable()
	for i := 1; i <= n; i++ {
		w, err := rt.startWorker(ws, i, n, script, passed, args)
		if err != nil {
			// The ones started go on; the list is not returned, so the
			// session's end stops them.
			return nil, err
		}
		p.workers = append(p.workers, w)
		w.task.OnDone = func(t *Task) { rt.workerDone(p, t) }
		ud := rt.ls.NewUserData()
		ud.Value = w
		ud.Metatable = ws.meta
		list.Append(ud)
	}
	rt.ls.SetMetatable(list, ws.poolMeta)
	ws.pools[list] = p
	return list, nil
}

// workerDone counts a worker of p that ended; the last ends p.
func (rt *Runtime) workerDone(p *pool, t *Task) {
	if t.status == taskFailed {
		p.failed = append(p.failed, t.err)
	}
	p.left--
	if p.left > 0 {
		return
	}
	if len(p.failed) > 0 {
		msg := p.failed[0]
		if len(p.failed) > 1 {
			msg = fmt.Sprintf("%d of %d workers failed: %s", len(p.failed), len(p.workers), strings.Join(p.failed, "; "))
		}
		rt.finish(p.task, taskFailed, nil, msg)
		return
	}
	rt.finish(p.task, taskDone, vals(lua.LTrue), "")
}

// errnoOf is the errno behind err, or EIO.
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return unix.EIO
}

// startWorker starts worker i of n.
func (rt *Runtime) startWorker(ws *workerSet, i, n int, script string, passed []int, args []string) (*worker, error) {
	fail := func(err error) (*worker, error) {
		return nil, &sock.Error{Op: "workers", FD: -1, Addr: script, Err: errnoOf(err)}
	}
	devnull, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	devnull = lowfd.Private(devnull)
	defer unix.Close(devnull)
	var pipes [2][2]int // stdout, stderr: read end, write end
	for k := range pipes {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			for _, q := range pipes[:k] {
				unix.Close(q[0])
				unix.Close(q[1])
			}
			return fail(err)
		}
		pipes[k] = [2]int{lowfd.Private(p[0]), lowfd.Private(p[1])}
	}
	closeWrites := func() {
		unix.Close(pipes[0][1])
		unix.Close(pipes[1][1])
	}
	files := []uintptr{uintptr(devnull), uintptr(pipes[0][1]), uintptr(pipes[1][1])}
	var inherit []string
	for _, fd := range passed {
		for len(files) <= fd {
			files = append(files, ^uintptr(0)) // closed in the worker
		}
		files[fd] = uintptr(fd)
		inherit = append(inherit, strconv.Itoa(fd))
	}
	argv := []string{"sockshell"}
	if len(rt.cfg.Allow) > 0 {
		var nets []string
		for _, p := range rt.cfg.Allow {
			nets = append(nets, p.String())
		}
		argv = append(argv, "--allow", strings.Join(nets, ","))
	}
	argv = append(argv, "--", script)
	argv = append(argv, args...)
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, envWorker+"=") || strings.HasPrefix(kv, envWorkers+"=") || strings.HasPrefix(kv, envInherit+"=")
	})
	env = append(env, envWorker+"="+strconv.Itoa(i), envWorkers+"="+strconv.Itoa(n), envInherit+"="+strings.Join(inherit, ","))
	pid, err := syscall.ForkExec(ws.exe, argv, &syscall.ProcAttr{
		Env:   env,
		Files: files,
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM},
	})
	closeWrites()
	if err != nil {
		unix.Close(pipes[0][0])
		unix.Close(pipes[1][0])
		return fail(err)
	}
	w := &worker{n: i, pid: pid, ended: make(chan struct{})}
	w.task = rt.internalTask(w.String())
	ws.live[w] = true
	prefix := "[" + strconv.Itoa(i) + "] "
	var readers sync.WaitGroup
	var outputs []*os.File
	for k, to := range []func() io.Writer{rt.Out, rt.errOut} {
		unix.SetNonblock(pipes[k][0], true) // read through Go's poller, not a thread each
		f := os.NewFile(uintptr(pipes[k][0]), fmt.Sprintf("worker %d output", i))
		outputs = append(outputs, f)
		readers.Add(1)
		go func() {
			defer readers.Done()
			rt.relay(f, prefix, to)
		}()
	}
	ws.wg.Add(1)
	go func() {
		defer ws.wg.Done()
		var status unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &status, 0, nil)
			if err != unix.EINTR {
				break
			}
		}
		drained := make(chan struct{})
		go func() { readers.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(drainGrace):
			for _, f := range outputs {
				f.SetReadDeadline(time.Now())
			}
			<-drained
		}
		for _, f := range outputs {
			f.Close()
		}
		rt.Post(func() { rt.workerEnded(w, status) })
		close(w.ended)
	}()
	return w, nil
}

// relay copies a worker's output to the session's, a line at a time with
// the worker's prefix, on the scheduler's goroutine.
func (rt *Runtime) relay(r io.Reader, prefix string, to func() io.Writer) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			if !strings.HasSuffix(line, "\n") {
				line += "\n"
			}
			s := prefix + line
			rt.Post(func() { io.WriteString(to(), s) })
		}
		if err != nil {
			return
		}
	}
}

// workerEnded ends the task of w, whose process ended with status.
func (rt *Runtime) workerEnded(w *worker, status unix.WaitStatus) {
	if rt.procs != nil {
		delete(rt.procs.live, w)
	}
	switch {
	case status.Exited() && status.ExitStatus() == 0:
		rt.finish(w.task, taskDone, vals(lua.LNumber(0)), "")
	case status.Exited():
		rt.finish(w.task, taskFailed, nil, fmt.Sprintf("%s: exit status %d", w, status.ExitStatus()))
	case status.Signaled():
		rt.finish(w.task, taskFailed, nil, fmt.Sprintf("%s: killed by %s", w, unix.SignalName(status.Signal())))
	default:
		rt.finish(w.task, taskFailed, nil, fmt.Sprintf("%s: ended (%#x)", w, uint32(status)))
	}
}

// signalWorkers sends sig to the processes of ws that have not ended.
func signalWorkers(ws []*worker, sig syscall.Signal) {
	for _, w := range ws {
		select {
		case <-w.ended:
		default:
			syscall.Kill(w.pid, sig)
		}
	}
}

// stopWorkers stops every worker the session started and still runs
// (SIGTERM, then SIGKILL after stopGrace), waits until each has ended and
// its output is written.
func (rt *Runtime) stopWorkers() {
	ws := rt.procs
	if ws == nil {
		return
	}
	var live []*worker
	for w := range ws.live {
		live = append(live, w)
	}
	signalWorkers(live, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { ws.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopGrace):
		signalWorkers(live, syscall.SIGKILL)
		<-done
	}
	rt.runPosted() // the last lines of output, and the workers' ends
}

// joinPool makes this session a worker when the environment says it was
// started as one: the global worker holds its number, inherited the
// descriptors it was handed, which join the table.
func (rt *Runtime) joinPool() {
	n := os.Getenv(envWorker)
	if n == "" {
		return
	}
	inherit := os.Getenv(envInherit)
	total := os.Getenv(envWorkers)
	os.Unsetenv(envWorker)
	os.Unsetenv(envWorkers)
	os.Unsetenv(envInherit)
	i, err := strconv.Atoi(n)
	if err != nil {
		return
	}
	rt.ls.SetGlobal("worker", lua.LNumber(i))
	if t, err := strconv.Atoi(total); err == nil {
		rt.ls.SetGlobal("nworkers", lua.LNumber(t))
	}
	list := rt.ls.NewTable()
	for _, f := range strings.Split(inherit, ",") {
		fd, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if _, err := rt.table.Adopt("worker", fd); err != nil {
			fmt.Fprintf(rt.err, "sockshell: %v\n", err)
			continue
		}
		list.Append(lua.LNumber(fd))
	}
	rt.ls.SetGlobal("inherited", list)
}

// WorkersMain is the main chunk of sockshell -j N SCRIPT: start n workers
// running script with the script's arguments, handing each every listening
// socket of the session (made by -e chunks), and wait for them all.
func (rt *Runtime) WorkersMain(n int, script string) func() (*lua.LFunction, error) {
	return func() (*lua.LFunction, error) {
		src := fmt.Sprintf(`local listening = {}
for _, row in ipairs(fds()) do
  if row.state == "listening" then listening[#listening + 1] = row.fd end
end
local pool, msg = workers(%d, %s, listening, ...)
if pool then pool, msg = wait(pool) end
if not pool then error("sockshell -j: " .. msg, 0) end
`, n, Quote(script))
		return rt.Load(src, "-j")
	}
}
