package luaapi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/internal/lowfd"
	"sockshell/sock"
)

// The scheduler runs tasks: Lua coroutines that look like blocking code. A
// call that would block inside a task yields; the scheduler waits on every
// waiting descriptor at once (epoll, edge-triggered: a call always tries
// its syscall before it waits, so an edge is never missed) and on timers,
// and resumes whichever task is ready. One goroutine runs it and owns the
// LState; other goroutines reach it only through Post.

// Task is one coroutine of the session. The main chunk of a script, and each
// line typed at the shell, is a task too: an internal one, with an ID of 0
// or less, not listed by tasks(). Spawned tasks are numbered 1, 2, 3 in the
// order they were spawned.
type Task struct {
	ID   int
	Name string // what started it: "main", a shell line, the spawned function's name

	th     *lua.LState
	abort  context.CancelFunc // nil unless the runtime is Interruptible
	fn     *lua.LFunction
	resume []lua.LValue // values for the next resume
	// resumeBuf holds them when they are few, saving an allocation a wait.
	resumeBuf [4]lua.LValue
	wait      *waitReq
	// tail is set when the task's function ended in a tail call of a
	// waiting operation (`return recv(fd)`): gopher-lua then unwinds the
	// coroutine at the yield, so the operation's results, when they come,
	// are the task's results.
	tail    bool
	status  taskStatus
	aborted atomic.Bool // Abort was called: the Lua error it causes is "interrupted"
	order   int         // when it was made, among all tasks

	results []lua.LValue // when done
	err     string       // when failed or cancelled
	waiters []*Task      // tasks blocked in wait() on this one
	report  bool         // print the error when it fails (spawned tasks)

	// OnDone, if set, is called when the task ends.
	OnDone func(*Task)
}

// taskStatus is where a task is in its life.
type taskStatus int

const (
	taskReady taskStatus = iota
	taskRunning
	taskWaiting
	taskDone
	taskFailed
	taskCancelled
)

var statusNames = [...]string{"ready", "running", "waiting", "done", "failed", "cancelled"}

func (s taskStatus) String() string { return statusNames[s] }

// Done reports whether the task has finished, one way or another.
func (t *Task) Done() bool { return t.status >= taskDone }

// String names the task: "task 3", or for an internal task its name
// ("main").
func (t *Task) String() string {
	if t.ID <= 0 {
		return t.Name
	}
	return fmt.Sprintf("task %d", t.ID)
}

// Err returns the task's error message, or "" if it did not fail.
func (t *Task) Err() string { return t.err }

// Results returns what the task's function returned.
func (t *Task) Results() []lua.LValue { return t.results }

// State describes the task for the `tasks` listing.
func (t *Task) State() string {
	if t.status == taskWaiting && t.wait != nil {
		return "waiting: " + t.wait.what()
	}
	if t.err != "" {
		return t.status.String() + ": " + t.err
	}
	return t.status.String()
}

type waitKind int

const (
	waitIO    waitKind = iota // a socket call: retry when ready
	waitPoll                  // poll(): any of fds
	waitSleep                 // sleep(): the deadline only
	waitTask                  // wait(): another task
	waitGo                    // a goroutine finishes the call (lookup.go)
)

// waitReq is what a task waits for.
type waitReq struct {
	kind     waitKind
	fds      []int
	events   uint32
	deadline time.Time
	op       string // the call waiting, for errors and listings
	fd       int
	addr     string
	// retry makes the call again once fds are ready. It returns the call's
	// Lua results, unix.EAGAIN to keep waiting, or sock.ErrMore to be
	// retried after the other tasks had a turn (see again).
	retry func() ([]lua.LValue, error)
	// timedOut gives the results when the deadline passes.
	timedOut func() []lua.LValue
	target   *Task
	// observe sees the results before the task does (recording, strict).
	observe func([]lua.LValue)
	seq     int
	nret    int    // results the caller wants; -1: all
	fd1     [1]int // fds of a wait on one descriptor, saving an allocation
	// failWith, if set, makes the call's results when the wait fails
	// (timeout, interrupt, descriptor closed) instead of fail's default:
	// a send says how many bytes went.
	failWith func(errno unix.Errno, detail string) []lua.LValue
	// once marks a wait that does not come back on its descriptor (a
	// connect): when it ends with no other task waiting there, the
	// descriptor leaves epoll. A registered socket costs every packet it
	// receives a wake-up call in the kernel, which a client that never
	// waits again (a fast request/response) would otherwise pay for.
	once bool
	// again marks a call that read its share (retry returned sock.ErrMore)
	// and is retried after the others had a turn, without waiting for an
	// event: a framing helper reading a peer that floods.
	again bool
	work  *goWork // waitGo: the goroutine's part
}

func (w *waitReq) what() string {
	switch {
	case w.kind == waitTask:
		return "wait " + w.target.String()
	case w.fd >= 0:
		return fmt.Sprintf("%s %d", w.op, w.fd)
	}
	return w.op
}

// fail gives the Lua results of the waiting call failing with errno.
func (w *waitReq) fail(errno unix.Errno, detail string) []lua.LValue {
	if w.failWith != nil {
		return w.failWith(errno, detail)
	}
	return failure(&sock.Error{Op: w.op, FD: w.fd, Addr: w.addr, Err: errno, Detail: detail})
}

type timer struct {
	at   time.Time
	task *Task
	seq  int
}

// timerHeap is a min-heap of timers by time. It is written out rather than
// used through container/heap, which boxes every timer it pushes.
type timerHeap []timer

func (h *timerHeap) push(t timer) {
	*h = append(*h, t)
	q := *h
	for i := len(q) - 1; i > 0; {
		parent := (i - 1) / 2
		if !q[i].at.Before(q[parent].at) {
			break
		}
		q[i], q[parent] = q[parent], q[i]
		i = parent
	}
}

func (h *timerHeap) pop() timer {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q[last] = timer{}
	q = q[:last]
	for i := 0; ; {
		small, l, r := i, 2*i+1, 2*i+2
		if l < len(q) && q[l].at.Before(q[small].at) {
			small = l
		}
		if r < len(q) && q[r].at.Before(q[small].at) {
			small = r
		}
		if small == i {
			break
		}
		q[i], q[small] = q[small], q[i]
		i = small
	}
	*h = q
	return top
}

type scheduler struct {
	epfd, wakefd int
	registered   map[int]bool
	waiting      map[int][]*Task // fd -> tasks waiting on it
	timers       timerHeap
	ready        []*Task
	spare        []*Task       // the other buffer of the ready queue
	scratch      []*Task       // fdReady's copy of the tasks waiting on a descriptor
	tasks        map[int]*Task // live tasks by ID
	nextID       int           // the last spawned task's ID
	nextInternal int           // the last internal task's ID, counting down from 0
	made         int           // tasks made
	seq          int
	cur          *Task
	// running is cur for other goroutines: the task to Abort when the
	// scheduler is too busy to take a signal.
	running atomic.Pointer[Task]
	events  []unix.EpollEvent
	again   []timer // tasks whose call comes back for more; at unused

	mu     sync.Mutex
	posted []func()
	closed bool // Post does nothing once the scheduler is closed
}

func (s *scheduler) init() error {
	// Keep the low numbers for the user's sockets: the first socket of a
	// session is fd 3, as in every socket tutorial.
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	ep = lowfd.Private(ep)
	w, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return err
	}
	w = lowfd.Private(w)
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, w, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(w)}); err != nil {
		unix.Close(ep)
		unix.Close(w)
		return err
	}
	s.epfd, s.wakefd = ep, w
	s.registered = map[int]bool{}
	s.waiting = map[int][]*Task{}
	s.tasks = map[int]*Task{}
	s.events = make([]unix.EpollEvent, 256)
	return nil
}

func (s *scheduler) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	unix.Close(s.epfd)
	unix.Close(s.wakefd)
}

// Post runs f on the scheduler's goroutine soon; once the runtime is
// closed it does nothing. It is safe for concurrent use.
func (rt *Runtime) Post(f func()) {
	rt.s.mu.Lock()
	defer rt.s.mu.Unlock()
	if rt.s.closed {
		return
	}
	rt.s.posted = append(rt.s.posted, f)
	unix.Write(rt.s.wakefd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
}

// newTask makes a task that will call fn(args...) when the scheduler runs.
// A spawned task gets the next number; an internal one (a script's main
// chunk, a shell line) an ID of 0 or less.
func (rt *Runtime) newTask(name string, fn *lua.LFunction, args []lua.LValue, spawned bool) *Task {
	s := &rt.s
	var id int
	if spawned {
		s.nextID++
		id = s.nextID
	} else {
		id = s.nextInternal
		s.nextInternal--
	}
	s.made++
	th, abort := rt.ls.NewThread()
	t := &Task{ID: id, Name: name, th: th, abort: abort, fn: fn, resume: args, status: taskReady, order: s.made}
	s.tasks[t.ID] = t
	s.ready = append(s.ready, t)
	return t
}

// Spawn starts fn(args...) as an internal task (a script's main chunk, a
// shell line) and returns it.
func (rt *Runtime) Spawn(name string, fn *lua.LFunction, args ...lua.LValue) *Task {
	return rt.newTask(name, fn, args, false)
}

// Tasks returns the live tasks in the order they were made.
func (rt *Runtime) Tasks() []*Task {
	ts := make([]*Task, 0, len(rt.s.tasks))
	for _, t := range rt.s.tasks {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b *Task) int { return a.order - b.order })
	return ts
}

// Task returns the live task with the given ID.
func (rt *Runtime) Task(id int) (*Task, bool) {
	t, ok := rt.s.tasks[id]
	return t, ok
}

// RunUntil runs the scheduler until done returns true. It sleeps in
// epoll_wait when nothing is ready: something else — a timer, a descriptor,
// a Post from another goroutine — must make done true in the end.
func (rt *Runtime) RunUntil(done func() bool) {
	s := &rt.s
	for {
		for len(s.ready) > 0 {
			// Tasks made ready meanwhile go to the other buffer, for the
			// next round; the two are reused, so a wait allocates nothing.
			batch := s.ready
			s.ready, s.spare = s.spare[:0], nil
			for i, t := range batch {
				batch[i] = nil
				rt.step(t) // a task cancelled since it was queued is skipped
			}
			s.spare = batch[:0]
		}
		if done() {
			return
		}
		ms := -1
		if len(s.timers) > 0 {
			d := time.Until(s.timers[0].at)
			ms = max(0, int((d+time.Millisecond-1)/time.Millisecond))
		}
		if len(s.again) > 0 {
			ms = 0
		}
		if ms != 0 {
			rt.checkHeapIdle()
		}
		if ms != 0 && rt.BeforeWait != nil {
			f := rt.BeforeWait
			rt.BeforeWait = nil
			f()
		}
		n, err := unix.EpollWait(s.epfd, s.events, ms)
		if err != nil && err != unix.EINTR {
			panic(fmt.Sprintf("epoll_wait: %v", err))
		}
		for i := 0; i < n; i++ {
			ev := s.events[i]
			if int(ev.Fd) == s.wakefd {
				rt.runPosted()
				continue
			}
			if rt.wireReady(int(ev.Fd)) {
				continue
			}
			rt.fdReady(int(ev.Fd), ev.Events)
		}
		rt.fireTimers()
		rt.retryAgain()
	}
}

// retryAgain retries, once each, the calls that came back for more.
func (rt *Runtime) retryAgain() {
	s := &rt.s
	list := s.again
	s.again = nil
	for _, a := range list {
		t := a.task
		w := t.wait
		if t.status != taskWaiting || w == nil || w.seq != a.seq {
			continue // woken meanwhile
		}
		w.again = false
		vals, err := rt.guard(w, w.retry)
		switch err {
		case unix.EAGAIN: // drained: wait for the descriptor as usual
		case sock.ErrMore:
			w.again = true
			s.again = append(s.again, a)
		default:
			rt.wake(t, vals)
		}
	}
	clear(list)
}

func (rt *Runtime) runPosted() {
	var b [8]byte
	unix.Read(rt.s.wakefd, b[:])
	rt.s.mu.Lock()
	fs := rt.s.posted
	rt.s.posted = nil
	rt.s.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// step resumes t until it yields, returns or fails.
func (rt *Runtime) step(t *Task) {
	if t.Done() {
		return
	}
	s := &rt.s
	args := t.resume
	t.resume = nil
	if t.tail {
		rt.finish(t, taskDone, args, "")
		return
	}
	t.status = taskRunning
	t.wait = nil
	s.cur = t
	s.running.Store(t)
	st, err, vals := rt.ls.Resume(t.th, t.fn, args...)
	s.running.Store(nil)
	s.cur = nil
	clear(t.resumeBuf[:]) // holding on to a received string would keep it alive
	switch {
	case err != nil:
		rt.finish(t, taskFailed, nil, rt.failureText(t, err))
	case t.wait != nil:
		t.tail = st == lua.ResumeOK
		rt.startWait(t)
	case st == lua.ResumeOK:
		rt.finish(t, taskDone, vals, "")
	default:
		rt.finish(t, taskFailed, nil, "coroutine.yield outside a coroutine (a task cannot yield to the scheduler)")
	}
}

// finish ends t and wakes the tasks waiting for it.
func (rt *Runtime) finish(t *Task, status taskStatus, vals []lua.LValue, msg string) {
	t.status, t.results, t.err = status, vals, msg
	t.wait = nil
	delete(rt.s.tasks, t.ID)
	if status == taskFailed && t.report {
		rt.failedTasks++
		if strings.HasPrefix(t.Name, "function") {
			fmt.Fprintf(rt.errOut(), "%s: %s\n", t, Printable(msg))
		} else {
			fmt.Fprintf(rt.errOut(), "%s (%s): %s\n", t, Printable(t.Name), Printable(msg))
		}
	}
	for _, w := range t.waiters {
		if w.status == taskWaiting && w.wait != nil && w.wait.target == t {
			rt.wake(w, taskResults(t))
		}
	}
	t.waiters = nil
	if t.th != nil {
		t.th.Close()
	}
	if t.OnDone != nil {
		t.OnDone(t)
	}
}

func taskResults(t *Task) []lua.LValue {
	switch t.status {
	case taskDone:
		if len(t.results) == 1 && t.results[0] == lua.LNil {
			return nil
		}
		return t.results
	case taskCancelled:
		return []lua.LValue{lua.LNil, lua.LString(t.String() + ": cancelled"), lua.LString("ECANCELED")}
	}
	return []lua.LValue{lua.LNil, lua.LString(t.err), lua.LString("ETASK")}
}

// startWait registers t's wait request with epoll and the timers.
func (rt *Runtime) startWait(t *Task) {
	s := &rt.s
	w := t.wait
	t.status = taskWaiting
	s.seq++
	w.seq = s.seq
	for _, fd := range w.fds {
		if !s.registered[fd] {
			ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
			if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
				rt.wake(t, w.fail(err.(unix.Errno), ""))
				return
			}
			s.registered[fd] = true
		}
		s.waiting[fd] = append(s.waiting[fd], t)
	}
	if !w.deadline.IsZero() {
		s.timers.push(timer{at: w.deadline, task: t, seq: w.seq})
	}
	if w.again {
		s.again = append(s.again, timer{task: t, seq: w.seq})
	}
	if w.kind == waitTask && w.target.Done() {
		rt.wake(t, taskResults(w.target))
	}
}

// wake makes a waiting task ready with the given results.
func (rt *Runtime) wake(t *Task, vals []lua.LValue) {
	s := &rt.s
	if w := t.wait; w != nil {
		if w.work != nil {
			w.work.cancel()
		}
		for _, fd := range w.fds {
			ws := s.waiting[fd]
			for i, x := range ws {
				if x == t {
					copy(ws[i:], ws[i+1:])
					ws[len(ws)-1] = nil
					ws = ws[:len(ws)-1]
					break
				}
			}
			// An emptied list stays, for the descriptor's next wait,
			// until the descriptor is closed.
			s.waiting[fd] = ws
			if len(ws) == 0 && w.once && s.registered[fd] {
				unix.EpollCtl(s.epfd, unix.EPOLL_CTL_DEL, fd, nil)
				delete(s.registered, fd)
			}
		}
		if w.observe != nil && vals != nil {
			rt.guard(w, func() ([]lua.LValue, error) { w.observe(vals); return nil, nil })
		}
		w.seq = -1
	}
	t.resume = adjust(t.resumeBuf[:0], vals, t.wait)
	t.status = taskReady
	s.ready = append(s.ready, t)
}

// guard runs part of a waiting call's completion (its retry, its timeout,
// its observer) outside the operation's own recover: a panic there becomes
// the call's failure, never the scheduler's.
func (rt *Runtime) guard(w *waitReq, f func() ([]lua.LValue, error)) (res []lua.LValue, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = w.fail(unix.EIO, fmt.Sprintf("internal error: %v", r)), nil
		}
	}()
	return f()
}

// adjust appends to dst the results a waiting call is resumed with, padded
// with nils or cut to the number its caller asked for.
func adjust(dst, vals []lua.LValue, w *waitReq) []lua.LValue {
	n := len(vals)
	if w != nil && w.nret >= 0 {
		n = w.nret
	}
	for i := range n {
		if i < len(vals) {
			dst = append(dst, vals[i])
		} else {
			dst = append(dst, lua.LNil)
		}
	}
	return dst
}

// fdReady retries the calls waiting on fd that events concern: a recv is
// not retried because the send buffer has room again, nor a send because
// data came in. An error or hang-up concerns every call.
func (rt *Runtime) fdReady(fd int, events uint32) {
	s := &rt.s
	ws := append(s.scratch[:0], s.waiting[fd]...) // waking a task changes the list
	defer func() {
		clear(ws)
		s.scratch = ws[:0]
	}()
	for _, t := range ws {
		w := t.wait
		if t.status != taskWaiting || w == nil {
			continue
		}
		switch w.kind {
		case waitIO:
			if events&(w.events|unix.EPOLLERR|unix.EPOLLHUP|unix.EPOLLRDHUP) == 0 {
				continue
			}
			vals, err := rt.guard(w, w.retry)
			if err == unix.EAGAIN {
				continue
			}
			if err == sock.ErrMore {
				if !w.again {
					w.again = true
					s.again = append(s.again, timer{task: t, seq: w.seq})
				}
				continue
			}
			rt.wake(t, vals)
		case waitPoll:
			if vals, _ := rt.guard(w, w.retry); vals != nil {
				rt.wake(t, vals)
			}
		}
	}
}

func (rt *Runtime) fireTimers() {
	s := &rt.s
	now := time.Now()
	for len(s.timers) > 0 && !s.timers[0].at.After(now) {
		tm := s.timers.pop()
		t := tm.task
		if t.status != taskWaiting || t.wait == nil || t.wait.seq != tm.seq {
			continue
		}
		w := t.wait
		vals, _ := rt.guard(w, func() ([]lua.LValue, error) { return rt.timedOut(w), nil })
		rt.wake(t, vals)
	}
}

// fdClosed wakes the tasks waiting on fd, which this session just closed.
func (rt *Runtime) fdClosed(fd int) {
	delete(rt.s.registered, fd)
	for _, t := range append([]*Task(nil), rt.s.waiting[fd]...) {
		rt.wake(t, t.wait.fail(unix.EBADF, "descriptor closed while waiting"))
	}
	delete(rt.s.waiting, fd)
}

// Cancel stops a task: a waiting call returns EINTR to it when interrupt
// is true (Ctrl-C); otherwise the task ends at once (kill).
func (rt *Runtime) Cancel(t *Task, interrupt bool) {
	if t.Done() {
		return
	}
	if interrupt {
		if t.status == taskWaiting {
			rt.wake(t, t.wait.fail(unix.EINTR, "interrupted"))
		}
		return
	}
	if t.status == taskWaiting {
		rt.wake(t, nil) // unhook it from fds and timers
		rt.s.ready = rt.s.ready[:len(rt.s.ready)-1]
	}
	for i, r := range rt.s.ready {
		if r == t {
			rt.s.ready = append(rt.s.ready[:i], rt.s.ready[i+1:]...)
			break
		}
	}
	rt.finish(t, taskCancelled, nil, "cancelled")
}

// Abort stops t while it runs Lua code, at its next instruction, with the
// error "interrupted". It is safe for concurrent use (it is what Ctrl-C does
// when the scheduler is busy running a task) and does nothing unless the
// runtime is Interruptible.
func (t *Task) Abort() {
	if t.abort != nil {
		t.aborted.Store(true)
		t.abort()
	}
}

// Running returns the task the scheduler is running now, or nil when it
// is between tasks or waiting. It is safe for concurrent use.
func (rt *Runtime) Running() *Task { return rt.s.running.Load() }

// Current returns the running task, or nil outside the scheduler.
func (rt *Runtime) Current() *Task { return rt.s.cur }
