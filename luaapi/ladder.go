package luaapi

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/internal/lowfd"
	"sockshell/ladder"
	"sockshell/record"
	"sockshell/sock"
	"sockshell/wire"
)

var ladderOps = []*Spec{
	{Name: "ladder", Params: params(opt("file", KName), opt("out", KName)), Results: results(KString),
		Doc:     "draw the session so far (its last 4000 calls and packets) as a sequence diagram: a lane per endpoint with its calls, the wire's packets as arrows between lanes, time going down; FILE.html or FILE.svg: write it there; a recording (FILE.lua) or FILE.pcap: draw that instead, as text or into OUT",
		Returns: "the diagram as text, or a line saying what was written", checked: true, run: runLadder},
}

// ladderExample is help's example for ladder.
const ladderExample = `ladder                   the session so far, as text
ladder s.html            the same as a page to open in a browser (also s.svg)
ladder rec.lua           a recording made with --record (rec.lua s.svg: into s.svg)
ladder s.pcap            the packets of a pcap file written by --pcap or wire FILE.pcap`

// maxLadder is how many calls and packets the session keeps for ladder:
// the last ones; a note says how many earlier ones were dropped.
const maxLadder = 4000

// ladderBytes is how many of a call's bytes an entry keeps (and shows).
const ladderBytes = 24

// ladderLog is the session's log of calls and packets for ladder, the
// last maxLadder of them. The sends and receives of the fast path go to a
// ring of their own, of small entries without pointers (no allocation, no
// write barrier, nothing for the collector to scan): together the two
// rings hold the last maxLadder of everything, and ladder merges them by
// time. It is not safe for concurrent use: only the scheduler's goroutine
// adds to it.
type ladderLog struct {
	// on says the log is kept (Config.LadderOnDemand): while it is off
	// nothing is logged and the calls do not read the clock for it.
	on    bool
	ents  ring[ladEntry]
	fasts ring[fastEntry]
	// addrs are the local addresses of the session's descriptors as far
	// as they are known, so that a call on a descriptor that is gone
	// (close) still finds its lane.
	addrs map[int]string
}

// ring keeps the last maxLadder values added.
type ring[T any] struct {
	vals  []T
	next  int // where the next value goes once full
	added int
}

func (r *ring[T]) add(v T) {
	r.added++
	if len(r.vals) < maxLadder {
		r.vals = append(r.vals, v)
		return
	}
	r.vals[r.next] = v
	r.next = (r.next + 1) % maxLadder
}

// all returns the values oldest first.
func (r *ring[T]) all() []T {
	return append(append(make([]T, 0, len(r.vals)), r.vals[r.next:]...), r.vals[:r.next]...)
}

// ladEntry is a call, a packet or a note.
type ladEntry struct {
	at    time.Duration
	kind  ladder.Kind
	op    string
	fd    int    // the call's descriptor, -1 for none
	made  int    // a descriptor the call made (socket, accept), -1 for none
	addr  string // fd's local address after the call, where known
	label string
	alert bool
	src   string // packets: the endpoints
	dst   string
}

// fastEntry is a send or recv of the fast path: its label is made when
// it is drawn.
type fastEntry struct {
	at   time.Duration
	n    int // the count sent or received
	fd   int32
	op   fastOp
	dlen uint8
	data [ladderBytes]byte // the first bytes
}

type fastOp uint8

const (
	fastSend     fastOp = iota
	fastRecv            // a recv that did not wait
	fastRecvDone        // the end of one that waited
)

func (l *ladderLog) add(e ladEntry) { l.ents.add(e) }

// fast logs a send or recv of the fast path that went well: data is what
// went or came (its first ladderBytes are kept), n its count.
func fast[T string | []byte](l *ladderLog, at time.Duration, op fastOp, fd int, data T, n int) {
	e := fastEntry{at: at, n: n, fd: int32(fd), op: op}
	e.dlen = uint8(copy(e.data[:], data))
	l.fasts.add(e)
}

// entries returns the last maxLadder entries in time order (among equal
// times, in the order they were logged), and how many earlier ones were
// dropped.
func (l *ladderLog) entries() ([]ladEntry, int) {
	ents := l.ents.all()
	for _, f := range l.fasts.all() {
		ents = append(ents, ladEntry{at: f.at, kind: ladder.Call, op: [...]string{"send", "recv", "recv"}[f.op], fd: int(f.fd), made: -1, label: fastLabel(f)})
	}
	sort.SliceStable(ents, func(i, j int) bool { return ents[i].at < ents[j].at })
	dropped := l.ents.added + l.fasts.added - len(ents)
	if len(ents) > maxLadder {
		ents = ents[len(ents)-maxLadder:]
		dropped = l.ents.added + l.fasts.added - maxLadder
	}
	return ents, dropped
}

// ladderFast logs a send or recv of the fast path that failed or went the
// generic way (it waited): at is when it started, 0 for now (the end of
// one that waited).
func (rt *Runtime) ladderFast(at time.Duration, op string, fd int, sent string, res []lua.LValue) {
	if !rt.lad.on || len(res) == 0 {
		return
	}
	done := at == 0
	if done {
		at = time.Since(rt.start)
	}
	e := ladEntry{at: at, kind: ladder.Call, op: op, fd: fd, made: -1}
	switch n, isNum := res[0].(lua.LNumber); {
	case len(res) >= 3 && res[0] == lua.LNil:
		e.label, e.alert = op+": "+res[2].String(), true
	case done && isNum:
		e.label = fmt.Sprintf("send -> %d", int(n))
	case isNum:
		fast(&rt.lad, at, fastSend, fd, sent, int(n))
		return
	default:
		got, _ := res[0].(lua.LString)
		kind := fastRecv
		if done {
			kind = fastRecvDone
		}
		fast(&rt.lad, at, kind, fd, string(got), len(got))
		return
	}
	if done {
		e.label = "... " + e.label
	}
	rt.lad.add(e)
}

// ladderExtra are the operations ladder shows besides the recorded ones.
var ladderExtra = map[string]bool{"dial": true, "serve": true, "socketpair": true, "sendfd": true, "recvfd": true,
	"tls": true, "wire": true, "sleep": true, "interact": true, "peercred": true}

func (s *Spec) onLadder() bool { return s.recorded || ladderExtra[s.Name] }

// ladArgs is what a call was given, as ladder shows it.
type ladArgs struct {
	at   time.Duration
	fd   int
	text string
	sent int // the length of the data it was given, -1 for none
	// waited: the call's start was logged (ladderWaits), its end shows
	// only its results
	waited bool
}

// ladderArgs notes the arguments of the running call: its descriptor and
// the rest in words, data as its length and first bytes.
func ladderArgs(L *lua.LState, s *Spec, at time.Duration) ladArgs {
	a := ladArgs{at: at, fd: -1, sent: -1}
	var b strings.Builder
	for i := 1; i <= L.GetTop(); i++ {
		v := L.Get(i)
		k := KAny
		if i-1 < len(s.Params) {
			k = s.Params[i-1].Kind
		}
		switch x := v.(type) {
		case lua.LNumber:
			if k == KFD && a.fd < 0 && i == 1 {
				a.fd = int(x)
				continue
			}
			b.WriteByte(' ')
			writeNumber(&b, x)
		case lua.LString:
			b.WriteByte(' ')
			if k == KData {
				a.sent = len(x)
				b.WriteString(strconv.Itoa(len(x)))
				b.WriteByte(' ')
				writeHead(&b, string(x))
			} else {
				b.WriteString(word(string(x)))
			}
		case lua.LBool:
			b.WriteByte(' ')
			b.WriteString(x.String())
		}
	}
	a.text = b.String()
	return a
}

// word is s as it is if it reads as one word, else quoted.
func word(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '"' || r == '\\' }) {
		return record.Quote(s)
	}
	return s
}

// writeNumber writes x as Lua prints it, without fmt.
func writeNumber(b *strings.Builder, x lua.LNumber) {
	if i := int64(x); float64(i) == float64(x) {
		b.WriteString(strconv.FormatInt(i, 10))
		return
	}
	b.WriteString(x.String())
}

// head is what writeHead writes.
func head(s string) string {
	var b strings.Builder
	writeHead(&b, s)
	return b.String()
}

// writeHead writes the first ladderBytes of s, quoted, "..." after them
// if there is more.
func writeHead(b *strings.Builder, s string) {
	b.WriteString(record.Quote(s[:min(len(s), ladderBytes)]))
	if len(s) > ladderBytes {
		b.WriteString("...")
	}
}

// ladderWaits logs the start of a call that has to wait, "connect ADDR
// ...", and returns its arguments for ladderCall, which logs its end.
func (rt *Runtime) ladderWaits(L *lua.LState, s *Spec, at time.Duration) ladArgs {
	a := ladderArgs(L, s, at)
	e := ladEntry{at: at, kind: ladder.Call, op: s.Name, fd: a.fd, made: -1, label: s.Name + a.text + " ..."}
	if a.fd < 0 {
		e.kind = ladder.Note
	} else {
		e.addr = rt.laneAddr(a.fd, s.Name, false)
	}
	rt.lad.add(e)
	a.at, a.waited = 0, true
	return a
}

// ladderCall logs a finished call: a.at is when it started, 0 for a call
// that waited, whose end is logged when it came ("... accept -> 5").
func (rt *Runtime) ladderCall(s *Spec, a ladArgs, res []lua.LValue) {
	at := a.at
	if at == 0 {
		at = time.Since(rt.start)
	}
	e := ladEntry{at: at, kind: ladder.Call, op: s.Name, fd: a.fd, made: -1}
	var b strings.Builder
	b.Grow(len(s.Name) + len(a.text) + 2*ladderBytes)
	if a.waited {
		b.WriteString("... ")
		b.WriteString(s.Name)
	} else {
		b.WriteString(s.Name)
		b.WriteString(a.text)
	}
	if len(res) >= 3 && res[0] == lua.LNil {
		b.WriteString(": ")
		b.WriteString(res[2].String())
		e.alert = true
	} else {
		for i, v := range res {
			k := KAny
			if i < len(s.Results) {
				k = s.Results[i]
			}
			switch k {
			case KFD:
				if n, ok := v.(lua.LNumber); ok {
					b.WriteString(" -> ")
					b.WriteString(strconv.Itoa(int(n)))
					if e.made < 0 {
						e.made = int(n)
					}
				}
			case KOK:
				if a.waited {
					b.WriteString(" ok")
				}
			case KChunk, KData:
				if str, ok := v.(lua.LString); ok {
					if str == "" && k == KChunk {
						b.WriteString(" eof")
					} else {
						b.WriteByte(' ')
						writeHead(&b, string(str))
					}
				}
			case KAddr:
				if str, ok := v.(lua.LString); ok {
					if s.Name == "getsockname" {
						b.WriteString(" ->")
					}
					b.WriteByte(' ')
					b.WriteString(string(str))
				}
			case KInt, KNum, KBool:
				if n, ok := v.(lua.LNumber); !ok || int(n) != a.sent || a.waited {
					b.WriteString(" -> ")
					if ok {
						writeNumber(&b, n)
					} else {
						b.WriteString(v.String())
					}
				}
			}
		}
	}
	e.label = b.String()
	if e.made >= 0 {
		delete(rt.lad.addrs, e.made)
	}
	fd := a.fd
	if fd < 0 {
		fd = e.made
	}
	if fd < 0 {
		e.kind = ladder.Note
	} else {
		e.addr = rt.laneAddr(fd, s.Name, s.Name == "close" && !e.alert)
	}
	rt.lad.add(e)
}

// laneAddr is fd's local address, "" while it has none (an unbound or
// unnamed socket); gone says fd was just closed, so that the address last
// known is the answer.
func (rt *Runtime) laneAddr(fd int, op string, gone bool) string {
	a, known := rt.lad.addrs[fd]
	if gone {
		delete(rt.lad.addrs, fd)
		return a
	}
	if a != "" || known && !namesSocket[op] {
		return a
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return ""
	}
	a = sockaddrString(sa)
	if rt.lad.addrs == nil {
		rt.lad.addrs = map[int]string{}
	}
	rt.lad.addrs[fd] = a
	return a
}

// namesSocket are the calls that may give a socket its local address
// (sendto and connect bind one that has none).
var namesSocket = map[string]bool{"bind": true, "connect": true, "listen": true, "sendto": true, "dial": true, "serve": true}

// sockaddrString writes a local address as the wire writes packets'
// endpoints; "" for one not bound yet.
func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		if a.Port != 0 {
			return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
		}
	case *unix.SockaddrInet6:
		if a.Port != 0 {
			return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port)).String()
		}
	case *unix.SockaddrUnix:
		return a.Name
	}
	return ""
}

// ladderPacket logs a packet the wire saw. Its time is the kernel's (the
// wall clock), the calls' the session's monotonic clock: the packet is
// placed by how long ago it came, so that the two agree even where the
// wall clock was set or slewed since the session started.
func (rt *Runtime) ladderPacket(p wire.Packet) {
	if !rt.lad.on {
		return
	}
	rt.lad.add(packetEntry(p, time.Since(rt.start)-time.Now().Sub(p.Time)))
}

func packetEntry(p wire.Packet, at time.Duration) ladEntry {
	return ladEntry{at: at, kind: ladder.Packet, fd: -1, made: -1, src: p.Src.String(), dst: p.Dst.String(),
		label: p.Summary(), alert: p.Proto == "ICMP" || strings.Contains(p.Flags, "RST") || p.Proto == "TCP" && p.Window == 0}
}

// diagram makes the diagram of entries: each descriptor's calls, from the
// call that made it to its close, on the lane of the first local address
// it had ("fd N" if none); a wildcard address (0.0.0.0:P) on the lane of
// the one concrete address with its port, if there is one; a packet from
// its source's lane to its destination's.
func diagram(title string, ents []ladEntry, dropped int, wireOn bool) *ladder.Diagram {
	type group struct {
		fd   int
		addr string
	}
	var groups []*group
	cur := map[int]*group{}
	of := make([]*group, len(ents))
	seen := map[string]bool{}
	for i, e := range ents {
		switch e.kind {
		case ladder.Packet:
			seen[e.src], seen[e.dst] = true, true
			wireOn = true
			continue
		case ladder.Note:
			if e.op == "wire" && !e.alert && !strings.Contains(e.label, "off") {
				wireOn = true
			}
			continue
		}
		if e.made >= 0 && e.made != e.fd {
			g := &group{fd: e.made}
			groups = append(groups, g)
			cur[e.made] = g
		}
		fd := e.fd
		if fd < 0 {
			fd = e.made
		}
		g := cur[fd]
		if g == nil {
			g = &group{fd: fd}
			groups = append(groups, g)
			cur[fd] = g
		}
		if g.addr == "" && e.addr != "" {
			g.addr = e.addr
		}
		if e.made >= 0 && e.made != fd && e.addr != "" && cur[e.made].addr == "" && e.op == "accept" {
			cur[e.made].addr = e.addr // an accepted socket's address is its listener's
		}
		of[i] = g
		if e.op == "close" && !e.alert {
			delete(cur, fd)
		}
	}
	for _, g := range groups {
		if g.addr != "" {
			seen[g.addr] = true
		}
	}
	name := func(g *group) string {
		if g.addr == "" {
			return "fd " + strconv.Itoa(g.fd)
		}
		ap, err := netip.ParseAddrPort(g.addr)
		if err != nil || !ap.Addr().IsUnspecified() {
			return g.addr
		}
		var only string
		for a := range seen {
			if o, err := netip.ParseAddrPort(a); err == nil && o.Port() == ap.Port() && !o.Addr().IsUnspecified() {
				if only != "" {
					return g.addr
				}
				only = a
			}
		}
		if only == "" {
			return g.addr
		}
		return only
	}
	// The events in time order (the order they were logged among equal
	// times), the lanes numbered in the order they appear.
	order := make([]int, len(ents))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return ents[order[i]].at < ents[order[j]].at })
	d := &ladder.Diagram{Title: title}
	var lanes ladder.Lanes
	for _, i := range order {
		e := ents[i]
		ev := ladder.Event{At: e.at, Kind: e.kind, Label: e.label, Alert: e.alert}
		switch e.kind {
		case ladder.Packet:
			ev.From, ev.To = lanes.Of(e.src), lanes.Of(e.dst)
		case ladder.Call:
			ev.Lane = lanes.Of(name(of[i]))
		}
		d.Events = append(d.Events, ev)
	}
	d.Lanes = lanes.Names()
	if dropped > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("the session keeps its last %d calls and packets: %d earlier ones are not shown", maxLadder, dropped))
	}
	if !wireOn {
		d.Notes = append(d.Notes, "the wire was off: calls only (wire on shows the packets too; it needs root or CAP_NET_RAW)")
	}
	return d
}

// ladderFastWaits logs the start of a send or recv of the fast path that
// has to wait.
func (rt *Runtime) ladderFastWaits(at time.Duration, op string, fd int, sent string) {
	if !rt.lad.on {
		return
	}
	label := op + " ..."
	if op == "send" {
		label = fmt.Sprintf("send %d %s ...", len(sent), head(sent))
	}
	rt.lad.add(ladEntry{at: at, kind: ladder.Call, op: op, fd: fd, made: -1, label: label})
}

// fastLabel is the label of a send or recv of the fast path.
func fastLabel(f fastEntry) string {
	data := record.Quote(string(f.data[:f.dlen]))
	if f.n > int(f.dlen) {
		data += "..."
	}
	switch {
	case f.op == fastSend:
		return fmt.Sprintf("send %d %s", f.n, data)
	case f.n == 0:
		return [...]string{"", "recv eof", "... recv eof"}[f.op]
	}
	return [...]string{"", "recv ", "... recv "}[f.op] + data
}

// ladderErr is a failure of ladder.
func ladderErr(addr string, errno error, detail string) []lua.LValue {
	return failure(&sock.Error{Op: "ladder", FD: -1, Addr: addr, Err: errno, Detail: detail})
}

// ladderOutputs are the kinds of file ladder writes, and ladderInputs
// those it draws.
var (
	ladderOutputs = map[string]bool{".html": true, ".htm": true, ".svg": true, ".txt": true}
	ladderInputs  = map[string]bool{".lua": true, ".pcap": true}
)

func runLadder(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	file := optString(L, "ladder", 1, "a file name", "")
	out := optString(L, "ladder", 2, "a file name", "")
	ext := strings.ToLower(filepath.Ext(file))
	if file != "" && !ladderOutputs[ext] && !ladderInputs[ext] {
		return ladderErr(file, unix.EINVAL, "expected a file to write (.html, .svg, .txt) or one to draw (a recording .lua, a .pcap)"), nil
	}
	if out != "" && !ladderOutputs[strings.ToLower(filepath.Ext(out))] {
		return ladderErr(out, unix.EINVAL, "expected a file to write: .html, .svg or .txt"), nil
	}
	if out != "" && !ladderInputs[ext] {
		return ladderErr(file, unix.EINVAL, "OUT goes with a recording (.lua) or a .pcap to draw"), nil
	}
	if file != "" && rt.cfg.Sandbox {
		return ladderErr(file, unix.EPERM, "file access is refused in --sandbox"), nil
	}
	var d *ladder.Diagram
	if ladderInputs[ext] {
		var err error
		lowfd.KeepLowFDs(func() { d, err = readLadder(file) })
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return ladderErr(file, errnoOf(err), ""), nil
			}
			return ladderErr(file, unix.EINVAL, SyntaxErrorText(err, 0)), nil
		}
		file = out
	} else {
		if !rt.lad.on {
			// Reached through load or dofile from a script whose own text
			// does not name ladder: the log starts now.
			rt.lad.on = true
			return ladderErr("", unix.ENODATA, "nothing logged yet: a script's calls are kept for ladder only when its text names ladder (or with -i); logging from now on"), nil
		}
		ents, dropped := rt.lad.entries()
		d = diagram("sockshell session", ents, dropped, rt.wire != nil)
		if len(d.Events) == 0 {
			return ladderErr("", unix.ENODATA, "no calls yet: nothing to draw"), nil
		}
	}
	if file == "" {
		return rt.ret1(lua.LString(strings.TrimSuffix(d.Text(rt.termWidth()), "\n"))), nil
	}
	var body []byte
	switch strings.ToLower(filepath.Ext(file)) {
	case ".svg":
		body = d.SVG()
	case ".txt":
		body = []byte(d.Text(80))
	default:
		body = d.HTML()
	}
	var err error
	lowfd.KeepLowFDs(func() { err = os.WriteFile(file, body, 0o644) })
	if err != nil {
		return ladderErr(file, errnoOf(err), ""), nil
	}
	calls, packets := 0, 0
	for _, e := range d.Events {
		switch e.Kind {
		case ladder.Call:
			calls++
		case ladder.Packet:
			packets++
		}
	}
	return rt.ret1(lua.LString(fmt.Sprintf("wrote %s: %s, %s, %s", file, count(len(d.Lanes), "lane"), count(calls, "call"), count(packets, "packet")))), nil
}

// termWidth is the width of the terminal the session writes to (the
// shell's output goes through its line editor, so the session's own
// stdout is asked too), 80 if it is not one.
func (rt *Runtime) termWidth() int {
	for _, w := range []io.Writer{rt.out, rt.cfg.Stdout} {
		if f, ok := w.(interface{ Fd() uintptr }); ok {
			if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
				return int(ws.Col)
			}
		}
	}
	return 80
}

// count is n and the noun, plural unless n is 1.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// ladderNow is the session's time for the ladder's log, 0 while the log
// is off.
func (rt *Runtime) ladderNow() time.Duration {
	if !rt.lad.on {
		return 0
	}
	return time.Since(rt.start)
}
