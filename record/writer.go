package record

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strconv"
	"strings"
	"time"
)

// Header describes a recording in the comment at the top of its script.
type Header struct {
	Time    time.Time // when the recording started
	Version string    // the sockshell version that made it
	Command []string  // the command line, program name first
}

// A Writer writes a recording as a Lua script that replays it: NewWriter
// writes the header, Write the statements that redo one operation and check
// its results, Close a trailer. Each call hands what it writes to the
// underlying io.Writer at once, in one Write, and keeps nothing back, so a
// crash loses nothing written before it. Into a File (an *os.File on a
// regular file) it also folds calls repeated in a row into loops, keeping
// that guarantee: see fold.go.
//
// The script calls the same functions the session did, after strict(true),
// which makes any call that fails raise an error. A descriptor the session
// made is a variable named after its number (fd3), so a replay works
// whatever numbers its kernel hands out; an address the kernel chose is
// kept in a variable too when it comes up (addr3 for getsockname of fd3,
// from3 for the sender of a datagram fd3 received), so that a later call
// naming it reaches the same socket. Data received is checked with expect
// (on a stream socket as recvn of the same number of bytes, however the
// kernel cut the stream into reads); a failure is written as
// fails(CODE, fn, args...); values that vary from run to run (peer
// addresses, ephemeral ports, buffer sizes, byte counts) are not checked but
// shown in comments. A gap of 50 ms or more before a call becomes
// at(SECONDS), which a replay with --realtime waits for.
//
// A Writer is used from one goroutine: it is not safe for concurrent use.
type Writer struct {
	w         io.Writer
	buf       bytes.Buffer // what the current call writes
	file      File         // w when the writer folds loops in it, else nil
	size      int64        // where the recording ends in file: a part's end, spaces may follow
	blank     int64        // where in file only spaces follow, up to phys
	phys      int64        // the size of file
	err       error        // the first write error, returned from then on
	closed    bool
	calls     int              // operations written
	last      time.Duration    // when the last operation written completed
	tasks     bool             // whether calls are written by task (tasks.go)
	seg       int              // the task whose function is open, when tasks
	known     map[int]bool     // the tasks started, when tasks
	gen       map[int64]int    // descriptors made with each number
	segs      int              // task functions opened
	touches   map[string]touch // variables and sockets by who last touched them
	after     map[int]bool     // functions the open one has waited for
	needs     []string         // after() lines the current statement needs
	untouched bool             // whether the statement being written leaves no touch

	socks map[int64]*sock  // descriptors by recorded number
	pools map[int64]string // the lists workers returned, by task number: pools[1]

	declared map[string]bool     // variables declared by name: locals, and data
	slots    int                 // locals the main chunk has declared
	tables   bool                // whether the tables fd, addr and from exist
	part     int                 // the current part; 0 is the main chunk
	consts   map[uint64]struct{} // the current part's constants, hashed
	seed     maphash.Seed

	addrs     map[string]string // an address the kernel chose -> the variable holding it
	ports     map[int]string    // its port -> the same variable
	held      map[string]string // a variable -> the address it holds
	userPorts map[int]bool      // ports the session bound to by choice

	// Folding loops (fold.go), when file is not nil.
	lines   []codeLine // the current call's lines
	barrier bool       // whether the current call's statements cannot be in a loop
	hist    []unit     // the latest units written as plain lines, since a barrier
	loop    *loop      // the loop calls are being folded into, if any
}

// sock is what the writer knows of a descriptor.
type sock struct {
	ref    string // the expression naming it in the script: fd3 or fd[3]
	typ    string // "stream", "dgram", ...
	fixed  bool   // bound to an address of the user's choosing
	peer   bool   // connected by the session, so its peer is known
	mate   int64  // the other end of a socket pair, else 0
	worker bool   // the other end was handed to worker processes (workers.go)
}

// pause is the shortest gap between two calls that the script keeps, for a
// replay with --realtime.
const pause = 50 * time.Millisecond

// commentColumn is where trailing comments start when the code leaves room.
const commentColumn = 40

// maxRecv is the limit a replay's recvn has by default (sock.DefaultMaxRecv);
// a recv that got more is replayed with a LIMIT of its own.
const maxRecv = 4 << 20

var errClosed = errors.New("record: write to a closed Writer")

// NewWriter returns a Writer that writes a recording to w, and writes its
// header at once. If w is a File, the Writer writes with WriteAt from w's
// current offset, folds repeated calls into loops, and leaves the offset at
// the end of the recording when it is closed.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	rw := &Writer{
		w:         w,
		socks:     make(map[int64]*sock),
		declared:  make(map[string]bool),
		consts:    make(map[uint64]struct{}),
		seed:      maphash.MakeSeed(),
		addrs:     make(map[string]string),
		ports:     make(map[int]string),
		held:      make(map[string]string),
		userPorts: make(map[int]bool),
		gen:       make(map[int64]int),
	}
	rw.file, rw.size = foldable(w)
	rw.blank, rw.phys = rw.size, rw.size
	version := h.Version
	if version == "" {
		version = "(version unknown)"
	}
	by := "-- by sockshell " + commentText(version)
	if len(h.Command) > 0 {
		by += ", run as: " + shellQuote(h.Command)
	}
	fmt.Fprintf(&rw.buf, "-- sockshell session recorded %s\n%s\n",
		h.Time.UTC().Format(time.RFC3339), by)
	rw.buf.WriteString("-- Replay: sockshell FILE (with --realtime, at() keeps the recorded pauses).\n")
	rw.line(rw.call("strict", "true"), "")
	rw.barrier = true
	return rw, rw.flush()
}

// Write writes the statements that redo ev and check its results. Which
// operations are worth recording is the caller's to say (luaapi's specs
// declare it): operations that only look (info, fds, poll, help, ...) are
// never given to a Writer.
func (w *Writer) Write(ev Event) error {
	if w.closed {
		return errClosed
	}
	if w.err != nil {
		return w.err
	}
	w.lines = nil
	w.barrier = false
	switch {
	case ev.Op == "spawn" && ev.Code == "", ev.Op == "wait", ev.Op == "workers" && ev.Code == "":
		switch ev.Op {
		case "spawn":
			w.spawned(ev)
		case "workers":
			w.startWorkers(ev)
		default:
			w.joined(ev)
		}
		w.calls++
		w.last = ev.At
		return w.flush()
	case ev.Task != 0:
		w.enterTasks()
	}
	if w.tasks {
		w.switchTask(ev.Task)
	}
	if len(w.consts) >= maxConsts {
		w.newPart()
	}
	if ev.At-w.last >= pause {
		sec := strconv.FormatFloat(ev.At.Seconds(), 'f', 3, 64)
		w.konst('n', sec)
		w.line(w.call("at", sec), "")
		w.barrier = true
	}
	w.op(ev)
	w.calls++
	w.last = ev.At
	return w.flush()
}

// Close writes the trailer. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if w.tasks {
		w.buf.WriteString(segEnd + runAll)
	} else if w.part > 0 {
		w.buf.WriteString(partEnd)
	}
	calls := "calls"
	if w.calls == 1 {
		calls = "call"
	}
	fmt.Fprintf(&w.buf, "-- end of recording: %d %s in %.3fs\n", w.calls, calls, w.last.Seconds())
	w.barrier = true
	if err := w.flush(); err != nil || w.file == nil {
		return err
	}
	if _, err := w.file.Seek(w.size, io.SeekStart); err != nil {
		return w.fail(err)
	}
	return nil
}

// flush writes what the current call made: into a File as a unit that may
// fold into a loop, else in one Write.
func (w *Writer) flush() error {
	if w.file != nil {
		return w.emit()
	}
	_, err := w.w.Write(w.buf.Bytes())
	w.buf.Reset()
	if err != nil {
		return w.fail(err)
	}
	return nil
}

// fail keeps err as the Writer's error and returns it.
func (w *Writer) fail(err error) error {
	w.err = fmt.Errorf("record: %w", err)
	return w.err
}

// op writes the statements of one operation: a failure as fails(...),
// else by the operation's family.
func (w *Writer) op(ev Event) {
	if ev.Code != "" {
		w.failure(ev)
		return
	}
	fd, _ := intOf(arg(ev, 0))
	s := w.sockArg(ev)
	call := w.call(ev.Op, w.args(ev.Args)...)
	if s != nil && s.worker && strings.HasPrefix(ev.Op, "recv") && ev.Op != "recvfd" {
		w.fromWorker(call, ev)
		return
	}
	switch ev.Op {
	case "socket", "accept":
		w.made(ev, s, call)
	case "socketpair":
		w.pair(ev, call)
	case "recvfd":
		comment := ""
		if data, _ := text(result(ev, 1)); data != "" {
			comment = "with " + Quote(data)
		}
		w.newSock(ev, &sock{}, call, comment)
	case "bind", "connect":
		w.addressed(ev, s, call)
	case "getsockname", "getpeername", "getopt":
		w.looked(ev, s, fd, call)
	case "recv", "recvfrom":
		w.receive(ev, s, fd, call)
	case "recvn", "recvuntil", "recvline", "recvframe":
		data, _ := text(result(ev, 0))
		w.line(w.call("expect", call, w.data(data)), "")
	default:
		w.line(call, "")
	}
}

// failure writes an operation that failed as fails(CODE, fn, args...),
// which a replay checks fails the same way.
func (w *Writer) failure(ev Event) {
	// A call that failed because another task closed its descriptor
	// completed, in the session, as the close did, and is reported before
	// it: it must not make the close wait for it.
	w.untouched = ev.Code == "EBADF"
	defer func() { w.untouched = false }()
	args := append([]string{w.str(ev.Code), w.global(ev.Op)}, w.args(ev.Args)...)
	w.line(w.call("fails", args...), ev.Msg)
	if s := w.sockArg(ev); s != nil && ev.Op == "connect" && ev.Code == "EINPROGRESS" {
		s.peer = true
	}
}

// made writes an operation that makes a descriptor: socket, accept.
func (w *Writer) made(ev Event, s *sock, call string) {
	if ev.Op == "socket" {
		typ, _ := text(arg(ev, 1))
		w.newSock(ev, &sock{typ: typ}, call, "")
		return
	}
	s2 := &sock{}
	if s != nil {
		s2.typ, s2.fixed = s.typ, s.fixed
	}
	comment := ""
	if peer, _ := text(result(ev, 1)); peer != "" {
		comment = "peer " + peer
	}
	w.newSock(ev, s2, call, comment)
}

// addressed writes an operation that gives a socket an address (bind) or
// a peer (connect), and learns what later checks may rely on.
func (w *Writer) addressed(ev Event, s *sock, call string) {
	w.line(call, "")
	if ev.Op == "connect" {
		if s != nil {
			s.peer = true
		}
		return
	}
	a, _ := text(arg(ev, 1))
	if s != nil {
		s.fixed = !chosen(a)
	}
	if _, port, ok := splitInet(a); ok && port != 0 {
		w.userPorts[port] = true
	}
}

// looked writes an operation that reads a socket's name, peer or option:
// checked where the value cannot vary, shown in a comment where it can.
func (w *Writer) looked(ev Event, s *sock, fd int64, call string) {
	switch ev.Op {
	case "getsockname":
		a, _ := text(result(ev, 0))
		_, port, inet := splitInet(a)
		switch {
		case s != nil && s.fixed:
			w.line(w.call("expect", call, w.addr(a)), "")
		case inet && port != 0 && !w.userPorts[port]:
			lhs, refs := w.assign(w.target("addr", fd))
			w.line(lhs+call, a)
			w.setAddr(refs[0], a)
		default:
			w.line(call, a)
		}
	case "getpeername":
		a, _ := text(result(ev, 0))
		if s != nil && s.peer {
			w.line(w.call("expect", call, w.addr(a)), "")
		} else {
			w.line(call, a)
		}
	case "getopt":
		name, _ := text(arg(ev, 1))
		v := result(ev, 0)
		if name == "rcvbuf" || name == "sndbuf" || v.Kind == Table {
			w.line(call, fmt.Sprint(v.V))
		} else {
			w.line(w.call("expect", call, w.value(v)), "")
		}
	}
}

// newSock binds the descriptor that a socket or accept returned to a
// variable, written as the left-hand side of call.
func (w *Writer) newSock(ev Event, s *sock, call, comment string) {
	fd, ok := intOf(result(ev, 0))
	if !ok {
		w.line(call, comment)
		return
	}
	w.gen[fd]++
	lhs, refs := w.assign(w.target("fd", fd))
	s.ref = refs[0]
	w.socks[fd] = s
	w.line(lhs+call, comment)
}

// receive writes a recv or recvfrom. On a stream socket, k bytes received
// become recvn(fd, k), so that the replay does not depend on how the kernel
// cuts the stream into reads. A datagram whose sender the kernel seems to
// have chosen (a port the session did not bind) keeps the sender in a
// variable, so that a reply sent to it reaches the same peer in a replay.
func (w *Writer) receive(ev Event, s *sock, fd int64, call string) {
	data, _ := text(result(ev, 0))
	stream := s != nil && s.typ == "stream"
	if stream && data != "" {
		args := []string{w.arg(arg(ev, 0)), w.int(int64(len(data)))}
		if t := arg(ev, 2); t.Kind != Nil || len(data) > maxRecv {
			args = append(args, w.arg(t))
		}
		if len(data) > maxRecv {
			args = append(args, w.int(int64(len(data))))
		}
		call = w.call("recvn", args...)
	}
	from, _ := text(result(ev, 1))
	comment := ""
	if from != "" {
		comment = "from " + from
	}
	_, port, inet := splitInet(from)
	if ev.Op == "recv" || stream || !inet || port == 0 || w.userPorts[port] || w.addrs[from] != "" {
		w.line(w.call("expect", call, w.data(data)), comment)
		return
	}
	lhs, refs := w.assign(target{family: "data"}, w.target("from", fd))
	w.line(lhs+call, comment)
	w.line(w.call("expect", refs[0], w.data(data)), "")
	w.setAddr(refs[1], from)
}

// line writes one statement, with comment, if any, at the end of its last
// line.
func (w *Writer) line(code, comment string) {
	needs := w.needs
	w.needs = nil
	for _, n := range needs {
		w.line(n, "")
	}
	if w.file != nil {
		w.lines = append(w.lines, codeLine{code, comment})
	}
	writeLine(&w.buf, w.indent(), code, comment)
}

// codeLine is a line that line wrote.
type codeLine struct{ code, comment string }

// writeLine writes code, each of its lines after indent, and comment, if
// any, at the end of its last line.
func writeLine(b *bytes.Buffer, indent, code, comment string) {
	if indent != "" {
		code = indent + strings.ReplaceAll(code, "\n", "\n"+indent)
	}
	b.WriteString(code)
	if comment != "" {
		last := code[strings.LastIndexByte(code, '\n')+1:]
		b.WriteString(strings.Repeat(" ", max(commentColumn-len(last), 2)))
		b.WriteString("-- ")
		b.WriteString(commentText(comment))
	}
	b.WriteByte('\n')
}

// sockArg returns what the writer knows of the descriptor ev acts on.
func (w *Writer) sockArg(ev Event) *sock {
	if v := arg(ev, 0); v.Kind == FD {
		if fd, ok := intOf(v); ok {
			return w.socks[fd]
		}
	}
	return nil
}

func (w *Writer) call(name string, args ...string) string {
	return w.global(name) + "(" + strings.Join(args, ", ") + ")"
}

func (w *Writer) args(vs []Value) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = w.arg(v)
	}
	return out
}

// arg returns v as a Lua expression: a descriptor as its variable, an
// address as w.addr does, data as w.data does.
func (w *Writer) arg(v Value) string {
	switch v.Kind {
	case FD:
		if fd, ok := intOf(v); ok && w.socks[fd] != nil {
			w.touched(w.socks[fd].ref)
			return w.socks[fd].ref
		}
	case Addr:
		if a, ok := text(v); ok {
			return w.addr(a)
		}
	case Data:
		if d, ok := text(v); ok {
			return w.data(d)
		}
	case FDList:
		var refs []string
		for _, fd := range fdList(v) {
			refs = append(refs, w.arg(Value{Kind: FD, V: fd}))
		}
		return "{" + strings.Join(refs, ", ") + "}"
	}
	return w.value(v)
}

// value returns v as a Lua literal.
func (w *Writer) value(v Value) string {
	if s, ok := text(v); ok {
		return w.str(s)
	}
	if n, ok := intOf(v); ok {
		return w.int(n)
	}
	switch x := v.V.(type) {
	case nil:
		return "nil"
	case bool:
		return strconv.FormatBool(x)
	case float64:
		f := luaNumber(x)
		w.konst('n', f)
		return f
	}
	return w.str(fmt.Sprint(v.V))
}

// data returns s as a Lua expression: one string literal, or for text of a
// few lines, one literal a line joined by .. so that it reads as the text.
func (w *Writer) data(s string) string {
	const minLen, maxLines = 48, 32
	n := strings.Count(s, "\n")
	if !strings.HasSuffix(s, "\n") {
		n++
	}
	if len(s) < minLen || n < 2 || n > maxLines {
		return w.str(s)
	}
	lines := strings.SplitAfterN(s, "\n", n)
	for i, l := range lines {
		lines[i] = w.str(l)
	}
	return strings.Join(lines, " ..\n    ")
}

func (w *Writer) str(s string) string {
	w.konst('s', s)
	return Quote(s)
}

func (w *Writer) int(n int64) string {
	s := strconv.FormatInt(n, 10)
	w.konst('n', s)
	return s
}

func (w *Writer) global(name string) string {
	w.konst('s', name)
	return name
}

// arg returns ev's i'th argument, or a nil Value.
func arg(ev Event, i int) Value {
	if i < len(ev.Args) {
		return ev.Args[i]
	}
	return Value{}
}

// result returns ev's i'th result, or a nil Value.
func result(ev Event, i int) Value {
	if i < len(ev.Results) {
		return ev.Results[i]
	}
	return Value{}
}

// text returns v as a string, if it is one.
func text(v Value) (string, bool) {
	x, ok := v.V.(string)
	return x, ok
}

// intOf returns v as an integer, if it is a whole number.
func intOf(v Value) (int64, bool) {
	switch x := v.V.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case float64:
		return int64(x), x == float64(int64(x))
	}
	return 0, false
}
