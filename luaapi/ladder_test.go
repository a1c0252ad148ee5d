package luaapi

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"sockshell/ladder"
)

// lanesSession runs the tour's session: a listener, a client that
// connects and sends, the server's receive and the closes.
const lanesSession = `
	srv = socket("inet", "stream"); bind(srv, "127.0.0.1:0"); listen(srv)
	c = socket("inet", "stream")
	connect(c, getsockname(srv))
	conn = accept(srv)
	send(c, "hello\n")
	expect(recv(conn), "hello\n")
	close(c)
	expect(recv(conn), "")
	close(conn); close(srv)`

// sessionDiagram is the diagram of the session s has run so far.
func sessionDiagram(s *session) *ladder.Diagram {
	ents, dropped := s.rt.lad.entries()
	return diagram("test", ents, dropped, s.rt.wire != nil)
}

// calls are the diagram's calls, each as "LANE: LABEL".
func calls(d *ladder.Diagram) []string {
	var cs []string
	for _, e := range d.Events {
		if e.Kind == ladder.Call {
			cs = append(cs, d.Lanes[e.Lane]+": "+e.Label)
		}
	}
	return cs
}

// TestLadderLanes: with the wire on, the connect's SYN goes from the
// client's lane to the server's, the SYN-ACK back, then the ACK, before
// connect returns and before accept; the data and the teardown's FINs
// follow; each call is on the lane of its socket's address, the accepted
// socket on its listener's.
func TestLadderLanes(t *testing.T) {
	needWire(t)
	s := newSession(t, Config{})
	// The kernel turns packet timestamps on a moment after the wire asks
	// (net_enable_timestamp defers it): until then a packet carries the
	// time it was read, which may be after the call that sent it.
	s.ok(`wire("on"); sleep(0.05)` + lanesSession)
	d := sessionDiagram(s)
	t.Log("\n" + d.Text(100))
	if len(d.Lanes) != 2 {
		t.Fatalf("lanes %q, want the server's and the client's", d.Lanes)
	}
	srv, cli := 0, 1 // the listener's socket comes first
	if !strings.HasPrefix(d.Lanes[srv], "127.0.0.1:") || !strings.HasPrefix(d.Lanes[cli], "127.0.0.1:") {
		t.Fatalf("lanes %q, want two loopback addresses", d.Lanes)
	}
	var seq []string
	for _, e := range d.Events {
		switch e.Kind {
		case ladder.Packet:
			dir := "?"
			switch {
			case e.From == cli && e.To == srv:
				dir = ">"
			case e.From == srv && e.To == cli:
				dir = "<"
			}
			seq = append(seq, dir+strings.Fields(e.Label)[0])
		case ladder.Call:
			who := map[int]string{srv: "srv", cli: "cli"}[e.Lane]
			seq = append(seq, who+":"+strings.Fields(e.Label)[0])
		}
	}
	got := strings.Join(seq, " ")
	for _, want := range []string{
		"cli:connect >SYN <SYN-ACK >ACK cli:... srv:accept",
		"cli:send >PSH-ACK <ACK",
		"cli:close >FIN-ACK",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("events:\n%s\nwant in them: %s", got, want)
		}
	}
	if !strings.Contains(got, "srv:close") || !strings.HasSuffix(got, "srv:close") {
		t.Errorf("events:\n%s\nwant the listener's close last", got)
	}
	if strings.Contains(got, "?") {
		t.Errorf("a packet between unknown lanes:\n%s", got)
	}
	for _, n := range d.Notes {
		if strings.Contains(n, "wire was off") {
			t.Errorf("note %q with the wire on", n)
		}
	}
}

// TestLadderWireOff: without the wire, the calls are there and a note says
// the packets are not.
func TestLadderWireOff(t *testing.T) {
	s := newSession(t, Config{})
	s.ok(lanesSession)
	d := sessionDiagram(s)
	want := []string{"socket inet stream -> ", "bind 127.0.0.1:0", "listen", "socket inet stream -> ", "getsockname -> ",
		"connect 127.0.0.1:", "accept -> ", `send 6 "hello\n"`, `recv "hello\n"`, "close", "recv eof", "close", "close"}
	got := calls(d)
	if len(got) < len(want) {
		t.Fatalf("calls:\n%s", strings.Join(got, "\n"))
	}
	i := 0
	for _, c := range got {
		if i < len(want) && strings.Contains(c, want[i]) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("calls:\n%s\nwant in order: %q (missing from %q)", strings.Join(got, "\n"), want, want[i])
	}
	text := d.Text(80)
	if !strings.Contains(text, "note: the wire was off: calls only") {
		t.Errorf("no note that the wire was off:\n%s", text)
	}
	for _, l := range strings.Split(text, "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("line wider than 80 columns: %q", l)
		}
	}
}

// TestLadderBound: past maxLadder entries the oldest are dropped and a
// note says how many.
func TestLadderBound(t *testing.T) {
	s := newSession(t, Config{})
	s.ok(`a, b = socketpair("unix", "stream")
		for i = 1, 2100 do send(a, "x"); recv(b, 1) end`)
	d := sessionDiagram(s)
	if n := len(d.Events); n != maxLadder {
		t.Errorf("%d events, want %d", n, maxLadder)
	}
	// socketpair, then 4200 calls: 201 dropped.
	want := "the session keeps its last 4000 calls and packets: 201 earlier ones are not shown"
	if !strings.Contains(strings.Join(d.Notes, "\n"), want) {
		t.Errorf("notes %q, want %q", d.Notes, want)
	}
	if got := d.Events[len(d.Events)-1].Label; got != `recv "x"` {
		t.Errorf("last event %q, want recv \"x\"", got)
	}
}

// hostile is a payload a peer may send to break out of the SVG.
const hostile = "\x00\x01\x1b\xff\"'&<script>"

// TestLadderSVGEscapes: a hostile payload is escaped in the SVG and the
// HTML, both of which are well-formed XML.
func TestLadderSVGEscapes(t *testing.T) {
	s := newSession(t, Config{})
	dir := t.TempDir()
	s.rt.ls.SetGlobal("HOSTILE", lua.LString(hostile))
	s.rt.ls.SetGlobal("DIR", lua.LString(dir))
	s.ok(`a, b = socketpair("unix", "stream")
		send(a, HOSTILE)
		recv(b)
		expect(ladder(DIR .. "/l.svg"):match("^wrote "), "wrote ")
		expect(ladder(DIR .. "/l.html"):match("^wrote "), "wrote ")`)
	for _, name := range []string{"l.svg", "l.html"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		checkEscaped(t, name, b)
	}
}

// checkEscaped fails if b is not well-formed XML or holds the hostile
// payload's bytes unescaped.
func checkEscaped(t *testing.T, name string, b []byte) {
	t.Helper()
	body := b
	if i := bytes.Index(b, []byte("<svg")); i >= 0 && strings.HasSuffix(name, ".html") {
		body = b[i : bytes.Index(b, []byte("</svg>"))+len("</svg>")]
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v\n%s", name, err, b)
		}
	}
	for _, bad := range []string{"<script", "\x01", "\x1b", "\xff", "\x00"} {
		if bytes.Contains(b, []byte(bad)) {
			t.Errorf("%s holds %q unescaped", name, bad)
		}
	}
	if !bytes.Contains(b, []byte(`&#34;\0\x01\x1b\xff\&#34;&#39;&amp;&lt;script&gt;&#34;`)) {
		t.Errorf("%s does not show the payload escaped:\n%s", name, b)
	}
}

// BenchmarkLadderLog measures what the fast path of send and recv pays for
// the ladder: the time and one entry in the log (the log full, as in a
// long session).
func BenchmarkLadderLog(b *testing.B) {
	var l ladderLog
	start := time.Now()
	for i := 0; i < maxLadder; i++ {
		fast(&l, 0, fastSend, 3, "x", 1)
	}
	data := []byte("x")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fast(&l, time.Since(start), fastRecv, 4, data, 1)
	}
}

// TestLadderPcap: the pcap file the wire wrote draws the same handshake
// and teardown between the same two lanes, without calls.
func TestLadderPcap(t *testing.T) {
	needWire(t)
	s := newSession(t, Config{})
	file := filepath.Join(t.TempDir(), "s.pcap")
	s.rt.ls.SetGlobal("PCAP", lua.LString(file))
	s.ok(`wire(PCAP); sleep(0.05)` + lanesSession + `
	wire("off")`)
	d, err := readLadder(file)
	if err != nil {
		t.Fatal(err)
	}
	live := sessionDiagram(s)
	var flags, want []string
	for _, e := range d.Events {
		if e.Kind != ladder.Packet {
			t.Errorf("a pcap's diagram has a %v event %q", e.Kind, e.Label)
		}
		flags = append(flags, d.Lanes[e.From]+" "+e.Label)
	}
	for _, e := range live.Events {
		if e.Kind == ladder.Packet {
			want = append(want, live.Lanes[e.From]+" "+e.Label)
		}
	}
	if strings.Join(flags, "\n") != strings.Join(want, "\n") {
		t.Errorf("the pcap's packets:\n%s\nthe session's:\n%s", strings.Join(flags, "\n"), strings.Join(want, "\n"))
	}
	if len(flags) < 8 || !strings.Contains(flags[0], "SYN seq 0") {
		t.Errorf("packets:\n%s\nwant the handshake first, and the teardown", strings.Join(flags, "\n"))
	}
}

// BenchmarkLadderCall measures what a call of the generic path pays for
// the ladder: its arguments and results in words, one entry in the log.
func BenchmarkLadderCall(b *testing.B) {
	rt, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	if err := rt.ls.DoString(`a, b = socketpair("unix", "stream")`); err != nil {
		b.Fatal(err)
	}
	spec, _ := Lookup("recvn")
	L := rt.ls
	fd := rt.table.FDs()[0]
	res := []lua.LValue{lua.LString("hello\n")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		L.SetTop(0)
		L.Push(lua.LNumber(fd))
		L.Push(lua.LNumber(6))
		rt.ladderCall(spec, ladderArgs(L, spec, time.Since(rt.start)), res)
	}
}

// taskRecording is a recording of a session whose server side ran in a
// task, as --record writes one: the accept comes before the connect.
const taskRecording = `strict(true)
local fd3 = socket("inet", "stream")
bind(fd3, "127.0.0.1:0")
listen(fd3)
-- Lua limits how many locals a function may have: new variables live in tables.
local fd, addr, from, data = {}, {}, {}
-- Tasks: each task's calls are queued in order, task(N, function() ... end),
-- and run by the last line: the main task's (0) first, whose start(N) spawns
-- task N where the session spawned it. join(N) waits for task N to end,
-- after(J) for the J'th function to have run (where two tasks touch one socket).
local queue, started, done, segs = {}, {}, {}, 0
local function task(n, f) segs = segs + 1 local q = queue[n] or {} queue[n] = q q[#q + 1] = {segs, f} end
local function run(n) for _, s in ipairs(queue[n] or {}) do s[2]() done[s[1]] = true end end
local function after(i) local t0 = now() while not done[i] and now() - t0 < 10 do sleep(0.001) end end
local function start(n) started[n] = spawn(run, n) end
local function join(n) if started[n] then pcall(wait, started[n], 1e8) end end
local function finish() for n in pairs(started) do join(n) end end
task(0, function()
  start(1)
  fd[4] = socket("inet", "stream")
  addr[3] = getsockname(fd3)            -- 127.0.0.1:58659
end)
task(1, function()
  after(1)
  fd[5] = accept(fd3)                   -- peer 127.0.0.1:60208
end)
task(0, function()
  connect(fd[4], addr[3])
  sendline(fd[4], "hello")
  at(0.25)
end)
task(1, function()
  expect(recvline(fd[5]), "hello")
  sendline(fd[5], "HELLO")
  close(fd[5])
end)
task(0, function()
  expect(recvline(fd[4]), "HELLO")
  close(fd[4])
  join(1)
  after(2)
  close(fd3)
end)
run(0) finish()
-- end of recording: 16 calls in 0.005s
`

// TestLadderRecording: a recording with tasks is read in recorded order,
// the server's calls on the listener's lane, the client's on the address
// its accept's comment names, its times those of its at() lines.
func TestLadderRecording(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rec.lua")
	if err := os.WriteFile(file, []byte(taskRecording), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := readLadder(file)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(calls(d), "\n")
	want := strings.Join([]string{
		"127.0.0.1:58659: socket inet stream -> 3",
		"127.0.0.1:58659: bind 127.0.0.1:0",
		"127.0.0.1:58659: listen",
		"127.0.0.1:60208: socket inet stream -> 4",
		"127.0.0.1:58659: getsockname -> 127.0.0.1:58659",
		"127.0.0.1:58659: accept -> 5 127.0.0.1:60208",
		"127.0.0.1:60208: connect 127.0.0.1:58659",
		`127.0.0.1:60208: sendline 5 "hello"`,
		`127.0.0.1:58659: recvline "hello"`,
		`127.0.0.1:58659: sendline 5 "HELLO"`,
		"127.0.0.1:58659: close",
		`127.0.0.1:60208: recvline "HELLO"`,
		"127.0.0.1:60208: close",
		"127.0.0.1:58659: close",
	}, "\n")
	if got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
	if last := d.Events[len(d.Events)-1].At; last != 250*time.Millisecond {
		t.Errorf("the last call at %v, want the recording's at(0.25)", last)
	}
}
