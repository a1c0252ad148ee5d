package luaapi

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// interact is nc's and pwntools' interactive(): what the user types goes
// to a socket, what arrives is printed as it comes. The call is one wait
// of the task that makes it, on the descriptor (readable, writable) and on
// what the user types, which a front-end's goroutine hands in with Typed
// (the shell's reader, a line at a time) or, without one, the runtime
// reads from its Stdin (bytes as they come). The scheduler goes on running
// the other tasks meanwhile.

var interactOps = []*Spec{
	{Name: "interact", Params: params(p("fd", KFD), opt("modes", KRest)), Results: results(KString),
		Doc: "send what is typed to FD (a line at a time, ending \\n, or \\r\\n with the mode crlf) and print what arrives as it comes (text as it is, other bytes escaped; a hexdump with -x or the mode hex) until the peer closes, Ctrl-] or Ctrl-C, or the end of input; FD stays open", Returns: `how it ended: "closed" (by the peer), "escape" (Ctrl-]), "interrupt" (Ctrl-C) or "end" (of input, once what came back meanwhile is printed)`,
		checked: true, hexWord: true, run: runInteract},
}

// ErrEscape and ErrInterrupt end what is typed for interact: the escape
// key (Ctrl-]) and Ctrl-C. io.EOF is the end of input.
var (
	ErrEscape    = errors.New("escape")
	ErrInterrupt = errors.New("interrupt")
)

// Typist is a front-end that reads what the user types for interact.
type Typist interface {
	// StartTyping and StopTyping are called on the scheduler's goroutine
	// when interact begins and ends. In between, the front-end hands each
	// line the user types to Runtime.Typed, and the end of typing (io.EOF,
	// ErrEscape, ErrInterrupt) the same way.
	StartTyping()
	StopTyping()
}

// SetTypist makes t the source of what interact sends; without one,
// interact reads Config.Stdin.
func (rt *Runtime) SetTypist(t Typist) { rt.talk.typist = t }

// Typed hands interact a line the user typed (without its end), or the
// end of typing when end is not nil. It is safe for concurrent use.
func (rt *Runtime) Typed(line string, end error) {
	rt.Post(func() {
		if it := rt.talk.cur; it != nil && it.live() {
			if end == nil {
				it.pending += line + it.eol
			}
			it.typed(end)
		}
	})
}

// drainQuiet is how long interact goes on printing after the end of input
// while nothing arrives: the replies to the last lines sent.
const drainQuiet = 500 * time.Millisecond

// talkState is the runtime's side of interact.
type talkState struct {
	typist Typist
	cur    *interaction
	stdin  *stdinPump
}

// interaction is one interact call under way.
type interaction struct {
	rt      *Runtime
	fd      int
	eol     string // what ends a typed line
	crlf    bool
	hex     bool
	task    *Task
	w       *waitReq
	pending string // typed, not sent yet
	end     error  // the end of typing, once it came
	carry   []byte // the end of what arrived, held back: half a character, a \r
	shown   int    // bytes shown in hex, for the offsets
	quiet   time.Time
}

func runInteract(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "interact", 1)
	it := &interaction{rt: rt, fd: fd, eol: "\n"}
	for i := 2; i <= L.GetTop(); i++ {
		switch m := checkString(L, "interact", i, "a mode (crlf, lf or hex)"); m {
		case "crlf":
			it.eol, it.crlf = "\r\n", true
		case "lf":
			it.eol, it.crlf = "\n", false
		case "hex", "-x":
			it.hex = true
		default:
			argError(L, "interact", i, "a mode (crlf, lf or hex)")
		}
	}
	if _, err := rt.table.Get("interact", fd); err != nil {
		return failure(err), nil
	}
	if _, ok := yieldInfo(L); !ok || rt.s.cur == nil {
		return failure(&sock.Error{Op: "interact", FD: fd, Err: unix.EDEADLK, Detail: "interact cannot run here (inside a metamethod or outside a task)"}), nil
	}
	if cur := rt.talk.cur; cur != nil {
		if cur.live() {
			return failure(&sock.Error{Op: "interact", FD: fd, Err: unix.EBUSY, Detail: fmt.Sprintf("already interacting with fd %d", cur.fd)}), nil
		}
		cur.stop()
	}
	if rt.talk.typist == nil && rt.cfg.Stdin == nil {
		return failure(&sock.Error{Op: "interact", FD: fd, Err: unix.ENOTTY, Detail: "no input to read what to send from"}), nil
	}
	it.task = rt.s.cur
	it.w = &waitReq{kind: waitIO, events: unix.EPOLLIN | unix.EPOLLOUT, op: "interact", fd: fd, retry: it.step,
		timedOut: func() []lua.LValue { return it.ended("end") }}
	it.w.fd1[0] = fd
	it.w.fds = it.w.fd1[:]
	it.w.failWith = func(errno unix.Errno, detail string) []lua.LValue {
		if errno == unix.EINTR { // Ctrl-C as a signal, between two lines read
			return it.ended("interrupt")
		}
		it.stop()
		return failure(&sock.Error{Op: "interact", FD: fd, Err: errno, Detail: detail})
	}
	rt.talk.cur = it
	if rt.talk.typist != nil {
		rt.talk.typist.StartTyping()
	} else {
		rt.stdinPump().attach(it)
	}
	res, err := it.step()
	if err != unix.EAGAIN {
		return res, nil
	}
	if it.end == io.EOF {
		it.w.deadline = it.quiet
	}
	return nil, it.w
}

// live reports whether the interaction's call is still waiting (it ends
// without knowing when its task is killed).
func (it *interaction) live() bool {
	t := it.task
	return it.rt.talk.cur == it && t != nil && !t.Done() && (t.wait == it.w || t.status == taskRunning)
}

// stop ends the interaction: the front-end stops reading for it.
func (it *interaction) stop() {
	rt := it.rt
	if rt.talk.cur != it {
		return
	}
	rt.talk.cur = nil
	if rt.talk.typist != nil {
		rt.talk.typist.StopTyping()
	}
}

// ended stops the interaction and gives its results.
func (it *interaction) ended(how string) []lua.LValue {
	it.flush()
	it.stop()
	return vals(lua.LString(how))
}

// typed takes what the user typed since the last time, and the end of
// typing if it came, while the call waits: it makes the call go on.
func (it *interaction) typed(end error) {
	if end != nil && it.end == nil {
		it.end = end
		if end == io.EOF {
			it.quiet = time.Now().Add(drainQuiet)
			it.rearm()
		}
	}
	rt, t, w := it.rt, it.task, it.w
	if t.status != taskWaiting || t.wait != w {
		return
	}
	res, err := rt.guard(w, w.retry)
	if err != unix.EAGAIN {
		rt.wake(t, res)
	}
}

// rearm moves the call's deadline to it.quiet, while it waits.
func (it *interaction) rearm() {
	s, t, w := &it.rt.s, it.task, it.w
	if t.status != taskWaiting || t.wait != w {
		return // not waiting yet: runInteract sets the deadline
	}
	s.seq++
	w.seq = s.seq
	s.timers.push(timer{at: it.quiet, task: t, seq: w.seq})
}

// step is the call's one attempt: send what was typed, print what
// arrived, and end if there is a reason to. It returns unix.EAGAIN to go on
// waiting.
func (it *interaction) step() ([]lua.LValue, error) {
	rt := it.rt
	// What was typed goes first: a peer that sends and closes at once
	// still gets it.
	if it.pending != "" {
		off, err := rt.table.SendRest(it.fd, it.pending, 0)
		if off > 0 { // a recording holds what went as the sends a user would type
			steps{rt: rt, cur: it.task}.note("send", vals(lua.LNumber(it.fd), lua.LString(it.pending[:off])), vals(lua.LNumber(off)))
		}
		it.pending = it.pending[off:]
		switch {
		case err == unix.EAGAIN:
		case err != nil:
			it.flush()
			it.stop()
			return failure(renamed(err, "interact")), nil
		}
	}
	for range 64 { // at most 4 MiB a turn; the edge comes back for the rest
		b, err := rt.table.Recv(it.fd, 64<<10)
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			it.flush()
			it.stop()
			return failure(renamed(err, "interact")), nil
		}
		steps{rt: rt, cur: it.task}.note("recv", vals(lua.LNumber(it.fd)), vals(lua.LString(b)))
		if len(b) == 0 {
			it.note("the peer closed the connection")
			return it.ended("closed"), nil
		}
		it.show(b)
		if it.end == io.EOF {
			it.quiet = time.Now().Add(drainQuiet)
			it.rearm()
		}
	}
	if it.pending == "" {
		switch it.end {
		case ErrEscape:
			return it.ended("escape"), nil
		case ErrInterrupt:
			return it.ended("interrupt"), nil
		case nil:
			if rt.talk.typist == nil {
				rt.stdinPump().more()
			}
		}
	}
	return nil, unix.EAGAIN
}

// note tells the user, on the error output, why interact ended.
func (it *interaction) note(why string) {
	fmt.Fprintf(it.rt.err, "interact: fd %d: %s\n", it.fd, why)
}

// show prints bytes that arrived: text as it is, every other byte escaped
// as the shell quotes it (a line's \r\n ends the line), or a hexdump. A
// character cut in two by the network, or a \r that may start a \r\n, is
// held back until the next bytes.
func (it *interaction) show(b []byte) {
	if it.hex {
		dump := Hexdump(string(b))
		if it.shown > 0 { // offsets go on from the last piece
			dump = reoffset(dump, it.shown)
		}
		it.shown += len(b)
		io.WriteString(it.rt.out, dump)
		return
	}
	s := append(it.carry, b...)
	keep := len(s)
	if keep > 0 && s[keep-1] == '\r' {
		keep--
	} else {
		for i := keep - 1; i >= 0 && i >= keep-3; i-- {
			if utf8.RuneStart(s[i]) {
				if !utf8.FullRune(s[i:keep]) {
					keep = i
				}
				break
			}
		}
	}
	it.carry = append([]byte(nil), s[keep:]...)
	io.WriteString(it.rt.out, printText(string(s[:keep])))
}

// flush prints what show held back.
func (it *interaction) flush() {
	if len(it.carry) > 0 {
		io.WriteString(it.rt.out, printText(string(it.carry)))
		it.carry = nil
	}
}

// printText is received text for the terminal: lines as they are, with
// whatever could act on the terminal escaped (Printable).
func printText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if i < len(lines)-1 {
			l = strings.TrimSuffix(l, "\r")
		}
		lines[i] = Printable(l)
	}
	return strings.Join(lines, "\n")
}

// reoffset shifts the offsets of a hexdump by off.
func reoffset(dump string, off int) string {
	lines := strings.SplitAfter(dump, "\n")
	for i, l := range lines {
		var n int
		if len(l) >= 8 {
			if _, err := fmt.Sscanf(l[:8], "%08x", &n); err == nil {
				lines[i] = fmt.Sprintf("%08x", n+off) + l[8:]
			}
		}
	}
	return strings.Join(lines, "")
}

// stdinPump reads the runtime's Stdin for interact when no front-end
// does: a goroutine reads a piece when asked and posts it.
type stdinPump struct {
	rt    *Runtime
	want  chan struct{}
	asked bool
	early string // read after its interact ended: the next one's
	end   error
}

func (rt *Runtime) stdinPump() *stdinPump {
	if rt.talk.stdin == nil {
		p := &stdinPump{rt: rt, want: make(chan struct{}, 1)}
		rt.talk.stdin = p
		startPoller()
		go p.read(rt.cfg.Stdin)
	}
	return rt.talk.stdin
}

// read is the pump's goroutine. It is not waited for: a read of a
// terminal may never return, and Post does nothing once the runtime is
// closed.
func (p *stdinPump) read(r io.Reader) {
	buf := make([]byte, 64<<10)
	for range p.want {
		n, err := r.Read(buf)
		data := string(buf[:n])
		if err != nil && !errors.Is(err, io.EOF) {
			err = io.EOF // an unreadable stdin ends the input as its end does
		}
		p.rt.Post(func() { p.got(data, err) })
		if err != nil {
			return
		}
	}
}

// attach gives the pump's input to it, from what was read early on.
func (p *stdinPump) attach(it *interaction) {
	if p.early != "" || p.end != nil {
		it.pending += it.convert(p.early)
		p.early = ""
		if p.end != nil {
			it.end = p.end
			it.quiet = time.Now().Add(drainQuiet)
		}
		return
	}
	p.more()
}

// more asks for the next piece, unless one is on its way or the input ended.
func (p *stdinPump) more() {
	if p.asked || p.end != nil {
		return
	}
	p.asked = true
	p.want <- struct{}{}
}

// got takes a piece the goroutine read, on the scheduler's goroutine.
func (p *stdinPump) got(data string, err error) {
	p.asked = false
	if err != nil {
		p.end = err
	}
	it := p.rt.talk.cur
	if it == nil || !it.live() {
		p.early += data
		return
	}
	it.pending += it.convert(data)
	it.typed(err)
}

// convert makes the line ends of input read as bytes the interaction's:
// with crlf, each \n not after a \r becomes \r\n.
func (it *interaction) convert(s string) string {
	if !it.crlf || !strings.Contains(s, "\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' && (i == 0 || s[i-1] != '\r') {
			b.WriteByte('\r')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
