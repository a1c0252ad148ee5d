package record

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// recordFile returns what a Writer writes for events into a file, where it
// folds repeated calls into loops.
func recordFile(t testing.TB, h Header, events []Event) string {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "rec.lua"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f, h)
	if err != nil {
		t.Fatal(err)
	}
	if w.file == nil {
		t.Fatal("the Writer does not fold into an *os.File")
	}
	for _, ev := range events {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Close leaves the offset at the end: a Write goes after the recording.
	if _, err := f.WriteString("-- appended\n"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	s, ok := strings.CutSuffix(string(b), "-- appended\n")
	if !ok {
		t.Fatalf("a Write after Close did not go at the end:\n%s", b)
	}
	return s
}

// pingPong is the shape of the replay benchmark: a connection, then n
// send/recv pairs of the same message.
func pingPong(n int) []Event {
	events := []Event{
		ok(call("socket", str("inet"), str("stream")), fd(3)),
		ok(call("connect", fd(3), addr("127.0.0.1:7799")), boolean(true)),
		ok(call("setopt", fd(3), str("nodelay"), boolean(true)), boolean(true)),
	}
	for range n {
		events = append(events,
			ok(call("send", fd(3), payload("ping")), integer(4)),
			ok(call("recv", fd(3), integer(64)), payload("ping")))
	}
	return append(events, ok(call("close", fd(3)), boolean(true)))
}

func pingPongSteps(n int) []step {
	steps := []step{
		{`socket("inet", "stream")`, ret(9)},
		{`connect(9, "127.0.0.1:7799")`, ret(true)},
		{`setopt(9, "nodelay", true)`, ret(true)},
	}
	for range n {
		steps = append(steps, step{`send(9, "ping")`, ret(4)}, step{`recvn(9, 4)`, ret("ping")})
	}
	return append(steps, step{`close(9)`, ret(true)})
}

// mixed folds loops of one call and of several, with comments, and ends
// them in each way one can end.
func mixed() []Event {
	var evs []Event
	at := time.Duration(0)
	add := func(task int, ev Event) {
		at += time.Millisecond
		ev.At, ev.Task = at, task
		evs = append(evs, ev)
	}
	add(0, ok(call("socket", str("inet"), str("stream")), fd(3)))
	add(0, ok(call("bind", fd(3), addr("127.0.0.1:9000")), boolean(true)))
	add(0, ok(call("listen", fd(3)), boolean(true)))
	// A server accepting clients: the first accept declares fd4 and cannot
	// be in a loop; the next ones assign it and can.
	for i := range 5 {
		add(0, ok(call("accept", fd(3)), fd(4), addr(fmt.Sprintf("127.0.0.1:%d", 51000+i))))
		add(0, ok(call("recv", fd(4)), payload("hello\n")))
		add(0, ok(call("close", fd(4)), boolean(true)))
	}
	// One call repeated; then a loop that ends mid-repetition.
	add(0, ok(call("socket", str("inet"), str("dgram")), fd(5)))
	for range 4 {
		add(0, ok(call("sendto", fd(5), payload("x"), addr("127.0.0.1:9001")), integer(1)))
	}
	for range 3 {
		add(0, ok(call("sendto", fd(5), payload("a"), addr("127.0.0.1:9001")), integer(1)))
		add(0, ok(call("sendto", fd(5), payload("b"), addr("127.0.0.1:9001")), integer(1)))
		add(0, ok(call("getopt", fd(5), str("rcvbuf")), integer(212992)))
	}
	add(0, ok(call("sendto", fd(5), payload("a"), addr("127.0.0.1:9001")), integer(1)))
	add(0, ok(call("sendto", fd(5), payload("b"), addr("127.0.0.1:9001")), integer(1)))
	add(0, ok(call("sendto", fd(5), payload("c"), addr("127.0.0.1:9001")), integer(1)))
	// Two tasks taking turns; a pause ends the loop.
	for range 4 {
		add(0, ok(call("send", fd(5), payload("1")), integer(1)))
		add(2, ok(call("send", fd(5), payload("2")), integer(1)))
	}
	at += time.Second
	add(2, ok(call("send", fd(5), payload("2")), integer(1)))
	for range 3 {
		add(2, failed(call("send", fd(5), payload("2")), "EAGAIN", "resource temporarily unavailable"))
	}
	add(2, ok(call("close", fd(5)), boolean(true)))
	return evs
}

func TestFoldGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []Event
	}{
		{"fold", pingPong(1000)},
		{"fold_mixed", mixed()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := recordFile(t, header, tc.events)
			file := filepath.Join("testdata", tc.name+".lua")
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("script differs from %s (go test -update rewrites it):\n%s", file, got)
			}
			compile(t, got)
			plain := script(t, header, tc.events)
			if err := sameCalls(plain, got); err != nil {
				t.Errorf("%v\n%s", err, got)
			}
		})
	}
}

// TestFoldReplay replays the folded ping-pong against the scripted fake,
// and with one reply changed: the error names the loop body's line and the
// values.
func TestFoldReplay(t *testing.T) {
	const n = 1000
	s := recordFile(t, header, pingPong(n))
	if err := replay(s, pingPongSteps(n)); err != nil {
		t.Fatalf("replay: %v\n%s", err, s)
	}
	steps := pingPongSteps(n)
	steps[3+2*500+1].ret = ret("pinG")
	err := replay(s, steps)
	const want = `:10: expected "ping", got "pinG"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("replay error = %v, want one containing %q\n%s", err, want, s)
	}
	if line := strings.Split(s, "\n")[9]; line != `  expect(recvn(fd3, 4), "ping")` {
		t.Errorf("line 10 is %q", line)
	}
	steps = pingPongSteps(n)
	steps = append(steps[:3+2*700+1], steps[3+2*700+2:]...) // the fake wants a send where the script receives
	err = replay(s, steps)
	const want2 = `:10: step 1405: got call recvn(9, 4), want send(9, "ping")`
	if err == nil || !strings.Contains(err.Error(), want2) {
		t.Errorf("replay error = %v, want one containing %q", err, want2)
	}
}

// TestFileSameAsPlain checks that into a file a recording without calls
// repeated three times in a row is what it is into an io.Writer.
func TestFileSameAsPlain(t *testing.T) {
	for _, tc := range sessions {
		if got, want := recordFile(t, header, tc.events), script(t, header, tc.events); got != want {
			t.Errorf("%s: into a file:\n%s\ninto an io.Writer:\n%s", tc.name, got, want)
		}
	}
}

// TestNoFold checks that a Writer does not fold into a destination it
// cannot rewrite: an io.Writer, a pipe, a file opened with O_APPEND,
// /dev/null.
func TestNoFold(t *testing.T) {
	events := pingPong(10)
	want := script(t, header, events)
	if strings.Contains(want, "for _") {
		t.Fatalf("folded into an io.Writer:\n%s", want)
	}
	record := func(f *os.File) {
		t.Helper()
		w, err := NewWriter(f, header)
		if err != nil {
			t.Fatal(err)
		}
		if w.file != nil {
			t.Errorf("%s: the Writer would fold", f.Name())
		}
		for _, ev := range events {
			if err := w.Write(ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}

	r, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		b, err := io.ReadAll(r)
		if err != nil {
			t.Error(err)
		}
		got <- string(b)
	}()
	record(pw)
	pw.Close()
	if s := <-got; s != want {
		t.Errorf("through a pipe:\n%s\nwant\n%s", s, want)
	}
	r.Close()

	name := filepath.Join(t.TempDir(), "append.lua")
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	record(f)
	f.Close()
	if b, _ := os.ReadFile(name); string(b) != want {
		t.Errorf("into a file opened with O_APPEND:\n%s\nwant\n%s", b, want)
	}

	if f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		record(f)
		f.Close()
	}
}

// spy is a File that runs check after every change the Writer makes.
type spy struct {
	*os.File
	t     testing.TB
	check func()
}

func (s *spy) WriteAt(p []byte, off int64) (int, error) {
	n, err := s.File.WriteAt(p, off)
	if len(p) > 0 {
		s.check()
	}
	return n, err
}

func (s *spy) Truncate(size int64) error {
	err := s.File.Truncate(size)
	s.check()
	return err
}

func (s *spy) Write(p []byte) (int, error) {
	s.t.Errorf("Write(%q) to a File: the Writer uses WriteAt", p)
	return s.File.Write(p)
}

// TestKill9 stands for kill -9 at every moment of random sessions: after
// every system call that changes the file, the file must be a script that
// makes exactly the calls completed so far (with or without the one being
// written), as the unfolded recording of them does.
func TestKill9(t *testing.T) {
	t.Parallel()
	seeds, n := 12, 300
	if testing.Short() {
		seeds = 4
	}
	folds, parts := 0, 0
	for seed := range seeds {
		events := randomSession(rand.New(rand.NewPCG(uint64(seed), 9)), n)
		s := everyState(t, fmt.Sprintf("seed %d", seed), events)
		folds += strings.Count(s, "\nfor _ = 1, ")
		parts += strings.Count(s, ";(function()") + strings.Count(s, "\ntask(") // a part, or a task's function
	}
	if folds < seeds || parts == 0 {
		t.Errorf("the sessions made %d loops and %d parts: the test does not test folding", folds, parts)
	}
}

// TestKill9LargeData is TestKill9 for loops of calls with more data than
// the writer leaves as spaces at the end of the file.
func TestKill9LargeData(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 400)
	events := pingPong(0)
	for i := range 20 {
		events = append(events,
			ok(call("send", fd(3), payload(big)), integer(len(big))),
			ok(call("recv", fd(3)), payload("ok")))
		if i%3 == 0 {
			events = append(events, ok(call("send", fd(3), payload(big[:i*100])), integer(i*100)))
		}
	}
	for range 10 {
		events = append(events,
			ok(call("send", fd(3), payload("a")), integer(1)),
			ok(call("send", fd(3), payload(big)), integer(len(big))),
			ok(call("send", fd(3), payload(big)), integer(len(big))))
	}
	events = append(events, ok(call("close", fd(3)), boolean(true)))
	s := everyState(t, "large data", events)
	if n := strings.Count(s, "\nfor _ = 1, "); n < 3 {
		t.Errorf("%d loops:\n%s", n, s)
	}
}

// everyState records events into a file and checks after every system
// call that changes the file that it is a script that makes exactly the
// calls completed so far (with or without the one being written), as the
// unfolded recording of them does. It returns the recording.
func everyState(t *testing.T, name string, events []Event) string {
	t.Helper()
	// What the first k events make a replay do: the log of the unfolded
	// recording of all of them up to the (k+1)th call (or the pause before
	// it). The fake's results depend only on what came before, so that is
	// what the unfolded recording of k events does.
	plain := script(t, header, events)
	full, err := trace(plain)
	if err != nil {
		t.Fatalf("%s: the unfolded recording: %v\n%s", name, err, plain)
	}
	want := make([][]string, 0, len(events)+1)
	for i, e := range full {
		if operations[e[:strings.IndexByte(e, '(')]] {
			if i > 0 && strings.HasPrefix(full[i-1], "at(") {
				i--
			}
			want = append(want, full[:i])
		}
	}
	want = append(want, full)
	if len(want) != len(events)+1 {
		t.Fatalf("%s: %d events made %d calls", name, len(events), len(want)-1)
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "rec.lua"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done, checks := 0, 0 // events written
	var last string
	var lastLog []string
	state := func() ([]string, string) {
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if string(b) == last && lastLog != nil {
			return lastLog, last
		}
		log, err := trace(string(b))
		if err != nil {
			t.Fatalf("%s, after %d calls: %v\n%s", name, done, err, b)
		}
		last, lastLog = string(b), log
		return log, last
	}
	sp := &spy{File: f, t: t, check: func() {
		checks++
		log, s := state()
		if !equal(log, want[done]) && (done == len(events) || !equal(log, want[done+1])) {
			t.Fatalf("%s: while writing call %d, the file replays\n%q\nwant\n%q\n%s",
				name, done+1, log, want[done], s)
		}
	}}
	w, err := NewWriter(sp, header)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
		done++
		log, s := state()
		if !equal(log, want[done]) {
			t.Fatalf("%s: after call %d, the file replays\n%q\nwant\n%q\n%s", name, done, log, want[done], s)
		}
		if n := len(s) - len(strings.TrimRight(s, " ")); n > maxBlank {
			t.Fatalf("%s: after call %d, %d spaces end the file", name, done, n)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if checks < len(events) {
		t.Errorf("%s: %d checks for %d calls", name, checks, len(events))
	}
	_, s := state()
	if s != strings.TrimRight(s, " ") {
		t.Errorf("%s: spaces left at the end of the recording", name)
	}
	return s
}

// TestLongSessionCompiles records a long repetitive session, with pauses
// and new payloads, and compiles the file after every change. (TestKill9
// checks more, parts included, on shorter sessions.)
func TestLongSessionCompiles(t *testing.T) {
	t.Parallel()
	pairs := 5000
	if testing.Short() {
		pairs = 1000
	}
	events := pingPong(0)
	at := time.Duration(0)
	for i := range pairs {
		msg := "ping"
		if i%1000 == 500 {
			msg = fmt.Sprintf("message %d", i)
		}
		if i%1000 == 999 {
			at += time.Second
		}
		at += 10 * time.Microsecond
		events = append(events,
			after(at, ok(call("send", fd(3), payload(msg)), integer(len(msg)))),
			after(at, ok(call("recv", fd(3), integer(64)), payload(msg))))
	}
	events = append(events, after(at, ok(call("close", fd(3)), boolean(true))))

	f, err := os.Create(filepath.Join(t.TempDir(), "rec.lua"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	checks := 0
	sp := &spy{File: f, t: t, check: func() {
		checks++
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := L.LoadString(LuaSource(string(b))); err != nil {
			t.Fatalf("after %d changes: %v\n%s", checks, err, b)
		}
	}}
	w, err := NewWriter(sp, header)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if lines := strings.Count(s, "\n"); lines > len(events)/20 {
		t.Errorf("%d calls made %d lines", len(events), lines)
	}
	if err := sameCalls(script(t, header, events), s); err != nil {
		t.Error(err)
	}
	t.Logf("%d calls, %d changes checked, %d bytes", len(events), checks, len(b))
}

// TestFoldSameCalls records random sessions with repetition both ways and
// checks that the scripts make the same calls with the same values.
func TestFoldSameCalls(t *testing.T) {
	t.Parallel()
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	folded := 0
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 1))
		events := randomSession(r, 50+r.IntN(1500))
		plain, file := script(t, header, events), recordFile(t, header, events)
		if err := sameCalls(plain, file); err != nil {
			t.Fatalf("seed %d: %v\nunfolded:\n%s\nfolded:\n%s", seed, err, plain, file)
		}
		if file != plain {
			folded++
		}
	}
	if folded < seeds/2 {
		t.Errorf("only %d of %d sessions folded", folded, seeds)
	}
}

// sameCalls reports whether the scripts make the same calls, and checks
// with the same values, against a fake whose results depend only on the
// calls made before.
func sameCalls(plain, folded string) error {
	want, err := trace(plain)
	if err != nil {
		return fmt.Errorf("unfolded: %v", err)
	}
	got, err := trace(folded)
	if err != nil {
		return fmt.Errorf("folded: %v", err)
	}
	if len(got) != len(want) {
		return fmt.Errorf("folded made %d calls and checks, unfolded %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("call or check %d: folded %s, unfolded %s", i+1, got[i], want[i])
		}
	}
	return nil
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// trace runs script against a fake API that logs every call, check and
// pause, and returns results made from the number of calls logged before:
// a new descriptor from socket and accept, an address-like string from
// everything else.
func trace(script string) (log []string, err error) {
	L := lua.NewState()
	defer L.Close()
	fds := 100
	for op := range operations {
		L.SetGlobal(op, L.NewFunction(func(L *lua.LState) int {
			args := make([]string, L.GetTop())
			for i := range args {
				args[i] = format(L.Get(i + 1))
			}
			log = append(log, op+"("+strings.Join(args, ", ")+")")
			res := lua.LString(fmt.Sprintf("127.0.0.1:%d", len(log)))
			switch op {
			case "socket", "accept":
				fds++
				L.Push(lua.LNumber(fds))
				L.Push(res)
				return 2
			case "recvfrom":
				L.Push(lua.LString(fmt.Sprintf("data %d", len(log))))
				L.Push(res)
				return 2
			}
			L.Push(res)
			return 1
		}))
	}
	logged := func(name string) *lua.LFunction {
		return L.NewFunction(func(L *lua.LState) int {
			args := make([]string, L.GetTop())
			for i := range args {
				args[i] = format(L.Get(i + 1))
			}
			log = append(log, name+"("+strings.Join(args, ", ")+")")
			return 0
		})
	}
	L.SetGlobal("strict", logged("strict"))
	L.SetGlobal("at", logged("at"))
	L.SetGlobal("expect", logged("expect"))
	L.SetGlobal("fails", L.NewFunction(func(L *lua.LState) int {
		code := L.CheckString(1)
		args := make([]lua.LValue, 0, L.GetTop())
		for i := 3; i <= L.GetTop(); i++ {
			args = append(args, L.Get(i))
		}
		L.CallByParam(lua.P{Fn: L.CheckFunction(2), NRet: 1}, args...)
		log = append(log, "fails("+code+", "+format(L.Get(-1))+")")
		return 0
	}))
	// Each task function runs where the file has it: the calls come in the
	// order they were recorded, as they do without tasks.
	script = InOrder(script)
	err = L.DoString(LuaSource(script))
	return log, err
}

// randomSession returns about n events: blocks of a few random calls, each
// block repeated a random number of times, on sockets opened and closed
// along the way, from two tasks, with pauses, failures, and runs of
// distinct payloads that cut the recording into parts.
func randomSession(r *rand.Rand, n int) []Event {
	var evs []Event
	at := time.Duration(0)
	task := 0
	type sk struct {
		fd     int
		stream bool
	}
	var open []sk
	unique := 0
	payloads := []string{"ping", "pong", "x", "hello\n", "", "\x00\xff"}
	msg := func() string {
		if r.IntN(20) == 0 {
			unique++
			return fmt.Sprintf("m%d", unique)
		}
		return payloads[r.IntN(len(payloads))]
	}
	newFD := func() int {
		if r.IntN(8) == 0 {
			return 10 + r.IntN(70) // sometimes more than locals allow
		}
		return 3 + r.IntN(5)
	}
	// one returns a random call on the open sockets.
	one := func() Event {
		if len(open) == 0 || r.IntN(12) == 0 {
			s := sk{newFD(), r.IntN(2) == 0}
			typ := "dgram"
			if s.stream {
				typ = "stream"
			}
			open = append(open, s)
			return ok(call("socket", str("inet"), str(typ)), fd(s.fd))
		}
		i := r.IntN(len(open))
		s := open[i]
		switch r.IntN(12) {
		case 0:
			open = append(open[:i], open[i+1:]...)
			return ok(call("close", fd(s.fd)), boolean(true))
		case 1:
			if r.IntN(2) == 0 {
				return ok(call("bind", fd(s.fd), addr("127.0.0.1:0")), boolean(true))
			}
			return ok(call("getsockname", fd(s.fd)), addr(fmt.Sprintf("127.0.0.1:%d", 40000+r.IntN(4))))
		case 2:
			return failed(call("connect", fd(s.fd), addr("127.0.0.1:1")), "ECONNREFUSED", "connection refused")
		case 3:
			return ok(call("connect", fd(s.fd), addr(fmt.Sprintf("127.0.0.1:%d", 40000+r.IntN(4)))), boolean(true))
		case 4:
			if s.stream {
				nfd := newFD()
				open = append(open, sk{nfd, true})
				return ok(call("accept", fd(s.fd)), fd(nfd), addr(fmt.Sprintf("127.0.0.1:%d", 50000+r.IntN(1000))))
			}
			return ok(call("recvfrom", fd(s.fd), integer(100)), payload(msg()), addr(fmt.Sprintf("127.0.0.1:%d", 40000+r.IntN(4))))
		case 5:
			m := msg()
			return ok(call("sendto", fd(s.fd), payload(m), addr(fmt.Sprintf("127.0.0.1:%d", 40000+r.IntN(4)))), integer(len(m)))
		case 6:
			return ok(call("getopt", fd(s.fd), str("rcvbuf")), integer(1000*r.IntN(3)))
		case 7, 8:
			return ok(call("recv", fd(s.fd), integer(64)), payload(msg()))
		default:
			m := msg()
			return ok(call("send", fd(s.fd), payload(m)), integer(len(m)))
		}
	}
	for len(evs) < n {
		if r.IntN(10) == 0 {
			task = r.IntN(2)
		}
		if r.IntN(40) == 0 { // a run of new payloads
			for range 100 + r.IntN(200) {
				unique++
				m := fmt.Sprintf("u%d", unique)
				evs = append(evs, Event{Op: "send", Args: []Value{fd(1), payload(m)}, Results: []Value{integer(len(m))}, At: at, Task: task})
			}
		}
		block := make([]Event, 1+r.IntN(2*maxPeriod))
		for i := range block {
			block[i] = one()
			block[i].Task = task
		}
		reps := 1 + r.IntN(3)
		if r.IntN(3) == 0 {
			reps += r.IntN(20)
		}
		for range reps {
			for _, ev := range block {
				at += time.Millisecond
				if r.IntN(50) == 0 {
					at += 100 * time.Millisecond
				}
				ev.At = at
				evs = append(evs, ev)
			}
		}
		if r.IntN(4) == 0 { // stop mid-block
			for _, ev := range block[:r.IntN(len(block))] {
				at += time.Millisecond
				ev.At = at
				evs = append(evs, ev)
			}
		}
	}
	return evs
}

// operations are the calls of a trace that redo an event; the others are
// the recording's own (at, strict, expect).
var operations = map[string]bool{
	"socket": true, "bind": true, "listen": true, "accept": true,
	"connect": true, "send": true, "recv": true, "sendto": true,
	"recvfrom": true, "shutdown": true, "close": true,
	"getsockname": true, "getpeername": true, "setopt": true, "getopt": true,
	"settimeout": true, "nonblock": true, "timeout": true,
	"recvn": true, "recvuntil": true, "recvline": true, "recvframe": true,
	"sendline": true, "sendframe": true, "maxrecv": true,
}
