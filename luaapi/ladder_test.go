package luaapi

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"sockshell/ladder"
	"sockshell/record"
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

// TestLadderRecording: a recording of a session whose server ran in a
// task (its accept recorded before the client's connect) is read in
// recorded order, the server's calls on the listener's lane, the client's
// on the address the accept's comment names.
func TestLadderRecording(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rec.lua")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w, err := record.NewWriter(f, record.Header{Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	s := newSession(t, Config{})
	s.rt.SetRecorder(w)
	res := s.ok(`
		local l = socket("inet", "stream")
		bind(l, "127.0.0.1:0"); listen(l)
		local t = spawn(function()
			local s, from = accept(l)
			peer = from
			sendline(s, recvline(s):upper())
			close(s)
		end)
		local c = socket("inet", "stream")
		connect(c, getsockname(l))
		sendline(c, "hello")
		expect(recvline(c), "HELLO")
		close(c)
		wait(t)
		close(l)
		return peer`)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d, err := readLadder(file)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(calls(d), "\n")
	client := res[0].String()
	for _, want := range []string{
		`(?m)^127\.0\.0\.1:\d+: accept -> \d+ ` + regexp.QuoteMeta(client) + `$`,
		`(?m)^` + regexp.QuoteMeta(client) + `: connect 127\.0\.0\.1:\d+$`,
		`(?m)^` + regexp.QuoteMeta(client) + `: sendline 5 "hello"$`,
		`(?m)^127\.0\.0\.1:\d+: recvline "hello"$`,
		`(?m)^` + regexp.QuoteMeta(client) + `: recvline "HELLO"$`,
	} {
		if !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("calls:\n%s\nwant a match for %s", got, want)
		}
	}
	if len(d.Lanes) != 2 {
		t.Errorf("lanes %q, want the listener's and the client's", d.Lanes)
	}
}
