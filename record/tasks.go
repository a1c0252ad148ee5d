package record

import (
	"strconv"
	"strings"
)

// A session with spawned tasks makes its calls interleaved, and a replay
// that made them in the recorded interleaving would wait in one task for
// what only another, later in the file, can make happen (an accept whose
// client has not connected yet). So from the first spawn on, the writer
// records each task's calls as its own sequence, which the replay runs as
// its own task, spawned where the session spawned it: within a task the
// calls keep their order, across tasks the replay waits on data, as the
// session did.
//
// The file stays a valid, complete script after every call, as without
// tasks. The calls go into the file as they come, each run of calls from
// one task as a function queued for that task:
//
//	task(0, function()
//	  start(1)                              -- spawn(run, 1)
//	  ...
//	end)
//	task(1, function()
//	  fd[7] = accept(fd3)
//	end)
//	run(0) finish()                         -- kept at the end of the file
//
// Nothing runs while the file is read; the last line runs the main task's
// queue, whose start(N) lines spawn task N to run its own, and then waits
// for every task it started. The closing "end)" and that last line stay at
// the end of the file while a function is open (written over by the next
// call, as a part's "end)()" is), so a recording cut short replays the
// calls completed so far. A function is a part of its own for Lua's
// limits: one with too many constants is followed by another of the same
// task.
//
// Variables: the queued functions share the chunk's locals declared before
// the first spawn; every variable made after it lives in the tables fd,
// addr and from. A descriptor number that comes back names a new variable
// (fd["7.2"], the second socket that had number 7), since in a replay two
// tasks' sockets that had one number in turn may be open at once.

// taskPrelude declares the queue and its runner, once, at the chunk's level.
const taskPrelude = `-- Tasks: each task's calls are queued in order, task(N, function() ... end),
-- and run by the last line: the main task's (0) first, whose start(N) spawns
-- task N where the session spawned it. join(N) waits for task N to end,
-- after(J) for the J'th function to have run (where two tasks touch one socket).
local queue, started, done, segs, pools = {}, {}, {}, 0, {}
local function task(n, f) segs = segs + 1 local q = queue[n] or {} queue[n] = q q[#q + 1] = {segs, f} end
local function run(n) for _, s in ipairs(queue[n] or {}) do s[2]() done[s[1]] = true end end
local function after(i) local t0 = now() while not done[i] and now() - t0 < 10 do sleep(0.001) end end
local function start(n) started[n] = spawn(run, n) end
local function join(n) if started[n] then pcall(wait, started[n], 1e8) end end
local function finish() for n in pairs(started) do join(n) end end
`

// Where tasks touch the same thing the order matters: a variable one task
// assigns and another uses, a socket two tasks use (two servers' tasks
// sending to one client). There the statement waits, with after(J), until
// the task function J that last touched it (the J'th in the file) has run
// to its end. Elsewhere the replay keeps no order across tasks but what
// data makes. Variables assigned and sockets made before the first spawn
// need no wait.
type touch struct {
	task, seg int // the task and the function that last touched it
}

// touched notes that the statement being written touches what key names
// (a variable or a socket), and makes it wait for the function of another
// task that touched it last.
func (w *Writer) touched(key string) {
	if !w.tasks || w.untouched {
		return
	}
	if t, ok := w.touches[key]; ok && t.task != w.seg && !w.after[t.seg] {
		w.after[t.seg] = true
		w.needs = append(w.needs, w.call("after", w.int(int64(t.seg))))
	}
	w.touches[key] = touch{w.seg, w.segs}
}

// indent returns what starts each line of the open task function.
func (w *Writer) indent() string {
	if w.tasks {
		return "  "
	}
	return ""
}

// segEnd closes a task's function.
const segEnd = "end)\n"

// runAll is the last line of a recording with tasks.
const runAll = "run(0) finish()\n"

// tail returns what follows the recording's end in the file while it is
// being written, so that it is a complete script: the closing of the
// open part or task function.
func (w *Writer) tail() string {
	switch {
	case w.closed:
		return ""
	case w.tasks:
		return segEnd + runAll
	case w.part > 0:
		return partEnd
	}
	return ""
}

// spawned writes that the task running now started task n.
func (w *Writer) spawned(ev Event) {
	n, ok := intOf(result(ev, 0))
	if !ok {
		return
	}
	w.enterTasks()
	w.switchTask(ev.Task)
	w.known[int(n)] = true
	w.line(w.call("start", w.int(n)), "")
}

// joined writes that the task running now waited for task n to end (a
// wait that timed out says nothing of the order).
func (w *Writer) joined(ev Event) {
	n, ok := intOf(arg(ev, 0))
	if ref, pool := w.pools[n]; ok && pool {
		w.waitWorkers(ev, ref)
		return
	}
	if !ok || ev.Code != "" && ev.Code != "ETASK" {
		return
	}
	w.enterTasks()
	w.switchTask(ev.Task)
	w.line(w.call("join", w.int(n)), "")
}

// enterTasks starts writing calls by task, once.
func (w *Writer) enterTasks() {
	if w.tasks {
		return
	}
	w.useTables()
	if w.part > 0 {
		w.buf.WriteString(partEnd)
		w.part = 0
	}
	w.buf.WriteString(taskPrelude)
	w.slots += 11
	w.tasks = true
	w.seg = -1
	w.known = map[int]bool{0: true}
	w.touches = make(map[string]touch)
	w.barrier = true
}

// switchTask makes the calls written next task n's: a new function in n's
// queue when the open one is another task's. A task the writer has not
// seen started (one started before the recording was) is started by the
// main task now.
func (w *Writer) switchTask(n int) {
	if !w.known[n] {
		w.known[n] = true
		w.switchTask(0)
		w.line(w.call("start", w.int(int64(n))), "")
	}
	if w.seg == n {
		return
	}
	w.openSeg(n)
}

// openSeg closes the open task function, if any, and opens one of task n.
func (w *Writer) openSeg(n int) {
	if w.seg >= 0 {
		w.buf.WriteString(segEnd)
	}
	w.seg = n
	w.segs++
	w.after = make(map[int]bool)
	w.barrier = true
	clear(w.consts)
	w.buf.WriteString("task(" + strconv.Itoa(n) + ", function()\n")
}

// key returns the table key of the g'th descriptor that had number n.
func (w *Writer) genKey(n int64, g int) string {
	if g <= 1 {
		return w.int(n)
	}
	return w.str(strconv.FormatInt(n, 10) + "." + strconv.Itoa(g))
}

// inOrder stands for taskPrelude where a recording is read rather than
// replayed: each task function runs where the file has it, so the calls
// come in the order the session made them.
const inOrder = `local started, pools = {}, {}
local function task(n, f) f() end
local function after() end
local function start() end
local function join() end
local function run() end
local function finish() end
`

// InOrder returns a recording's source made to make its calls in the order
// they were recorded, task functions included: for reading what a session
// did (its conversations), not for replaying it against real peers.
func InOrder(src string) string {
	for _, prelude := range []string{taskPrelude, taskPreludeV1} {
		if strings.Contains(src, prelude) {
			return strings.Replace(src, prelude, inOrder, 1)
		}
	}
	return src
}

// taskPreludeV1 is taskPrelude as recordings made before workers were
// recorded have it.
var taskPreludeV1 = strings.Replace(taskPrelude, "local queue, started, done, segs, pools = {}, {}, {}, 0, {}",
	"local queue, started, done, segs = {}, {}, {}, 0", 1)
