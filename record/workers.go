package record

// Worker processes (luaapi's workers) are not recorded: each is a sockshell
// of its own running a script, and a replay starts them again as the
// session did, with the descriptors it hands down. The recording keeps what
// the session did with them: the socket pairs it made, the workers call
// (whose list of processes becomes pools[K], the K'th the session started),
// the descriptors it sent (sendfd) and the wait for the workers to end. A
// session that starts workers is recorded by task, as one that spawns.
//
// What a worker sends on a socket whose other end the session handed to
// the workers is that process's own, in an order of its own (four workers
// saying "ready N" on one socket pair, in whatever order they start), so a
// replay does not check it: the call is made, the data shown in a comment.

// startWorkers writes a workers call.
func (w *Writer) startWorkers(ev Event) {
	w.enterTasks()
	w.switchTask(ev.Task)
	ref := w.pool(ev.Results)
	for _, fd := range fdList(arg(ev, 2)) {
		if s := w.socks[int64(fd)]; s != nil {
			if mate := w.socks[s.mate]; mate != nil && s.mate != 0 {
				mate.worker = true
			}
		}
	}
	w.line(ref+" = "+w.call("workers", w.args(ev.Args)...), "")
}

// pool names the list of workers in results, a new one.
func (w *Writer) pool(results []Value) string {
	id, _ := intOf(result(Event{Results: results}, 0))
	if w.pools == nil {
		w.pools = make(map[int64]string)
	}
	ref := "pools[" + w.int(int64(len(w.pools)+1)) + "]"
	w.pools[id] = ref
	w.touched(ref)
	return ref
}

// waitWorkers writes a wait for the workers of pool ref: checked, as any
// call under strict(true), unless it timed out in the session.
func (w *Writer) waitWorkers(ev Event, ref string) {
	w.enterTasks()
	w.switchTask(ev.Task)
	w.touched(ref)
	args := []string{ref}
	if len(ev.Args) > 1 {
		args = append(args, w.args(ev.Args[1:])...)
	}
	if ev.Code != "" {
		w.line(w.call("fails", append([]string{w.str(ev.Code), w.global("wait")}, args...)...), ev.Msg)
		return
	}
	w.line(w.call("wait", args...), "")
}

// pair writes a socketpair: two descriptors, each the other's mate.
func (w *Writer) pair(ev Event, call string) {
	a, okA := intOf(result(ev, 0))
	b, okB := intOf(result(ev, 1))
	if !okA || !okB {
		w.line(call, "")
		return
	}
	typ, _ := text(arg(ev, 1))
	w.gen[a]++
	w.gen[b]++
	lhs, refs := w.assign(w.target("fd", a), w.target("fd", b))
	w.socks[a] = &sock{ref: refs[0], typ: typ, peer: true, mate: b}
	w.socks[b] = &sock{ref: refs[1], typ: typ, peer: true, mate: a}
	w.line(lhs+call, "")
}

// fromWorker writes a receive on a socket a worker holds the other end of:
// made, not checked.
func (w *Writer) fromWorker(call string, ev Event) {
	data, _ := text(result(ev, 0))
	w.line(call, "a worker's, not checked: "+Quote(data))
}

// fdList returns the descriptor numbers of a list of them.
func fdList(v Value) []int {
	fds, _ := v.V.([]int)
	return fds
}
