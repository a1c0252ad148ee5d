package luaapi

import (
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"sockshell/wire"
)

// TestStackOverflow: recursion ends the task with "stack overflow" however
// it recurses — plain calls, or pcall, xpcall and coroutines, each of which
// nests a coroutine — and no pcall on the way out can catch it. The session
// goes on working afterwards, and moderate nesting is fine.
func TestStackOverflow(t *testing.T) {
	s := newSession(t, Config{})
	for _, src := range []string{
		`local function f() return 1 + f() end f()`,
		`local function f(n) return pcall(f, n + 1) end f(1)`,
		`local function f(n) return xpcall(function() return f(n + 1) end, debug.traceback) end f(1)`,
		`local function f() return coroutine.wrap(f)() end f()`,
		`local function f() local co = coroutine.create(f) return coroutine.resume(co) end print(pcall(f))`,
	} {
		task := s.run("=overflow", src)
		if task.Err() != "stack overflow" {
			t.Errorf("%s: error %q, want \"stack overflow\"", src, task.Err())
		}
	}
	wantResults(t, s.ok(`
local function f(n) if n == 0 then return "deep" end local ok, v = pcall(f, n - 1) return v end
local other = spawn(function() local function g() return pcall(g) end g() end)
local _, msg = wait(other)
return f(150), msg, pcall(error, "caught", 0)`), `("deep", "stack overflow", false, "caught")`)
}

// exits records the calls of Limits.Exit.
type exits struct {
	mu   sync.Mutex
	msgs []string
}

func (e *exits) exit(msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.msgs = append(e.msgs, msg)
}

func (e *exits) called() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.msgs...)
}

// TestAllocationLimit: string.rep, table.concat and string.format refuse
// a result larger than the memory limit before making it, with an error a
// pcall can catch; smaller ones work as before.
func TestAllocationLimit(t *testing.T) {
	var ex exits
	s := newSession(t, Config{Limits: Limits{MaxMemory: 64 << 20, Exit: ex.exit, Grace: testGrace}})
	for _, tc := range []struct{ src, want string }{
		{`string.rep("x", 2^40)`, "limit:1: memory limit of 64 MiB exceeded (string.rep of 1099511627776 bytes)"},
		{`("xy"):rep(2^62)`, "memory limit of 64 MiB exceeded (string.rep of 9223372036854775807 bytes)"},
		{`local big = string.rep("x", 2^20) local t = {} for i = 1, 100 do t[i] = big end table.concat(t)`, "memory limit of 64 MiB exceeded (table.concat of "},
		{`string.format(string.rep("%999999d", 100), 1)`, "memory limit of 64 MiB exceeded (string.format of "},
	} {
		task := s.run("=limit", tc.src)
		if !strings.Contains(task.Err(), tc.want) {
			t.Errorf("%s: error %q, want %q", tc.src, task.Err(), tc.want)
		}
	}
	wantResults(t, s.ok(`
local ok, msg = pcall(string.rep, "x", 2^40)
return ok, #string.rep("ab", 3, nil), table.concat({"a", 1, "b"}, "-"), string.format("%5d|%-3s|%.2f", 7, "x", 1.5)`),
		`(false, 6, "a-1-b", "    7|x  |1.50")`)
	if got := ex.called(); len(got) != 0 {
		t.Errorf("Exit called: %q", got)
	}
}

// testGrace is the tests' Limits.Grace: they check that a session ends by
// itself once a limit is passed (Exit is not called), which under -race on
// a loaded machine can take longer than exitGrace.
const testGrace = 5 * time.Second

// TestMemoryLimit: a session whose heap grows past the limit ends with
// "memory limit of N MiB exceeded": a task running Lua code stops at once
// where the runtime can be interrupted, a waiting one as soon as the limit
// is seen.
func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		src  string
	}{
		{"a loop in the sandbox", Config{Sandbox: true},
			`local t = {} while true do t[#t + 1] = string.rep("x", 4096) .. #t end`},
		{"a big table, interruptible", Config{Interruptible: true},
			`local t = {} for i = 1, 1e9 do t[i] = {i} end`},
		{"held while waiting", Config{},
			`local a, b = string.rep("x", 40 * 2^20), string.rep("y", 40 * 2^20) sleep(30)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ex exits
			tc.cfg.Limits = Limits{MaxMemory: 64 << 20, Exit: ex.exit, Grace: testGrace}
			s := newSession(t, tc.cfg)
			start := time.Now()
			task := s.run("=hog", tc.src)
			s.rt.Close()
			if task.Err() != "memory limit of 64 MiB exceeded" {
				t.Errorf("error %q", task.Err())
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("the session took %v to end", d)
			}
			if got := ex.called(); len(got) != 0 {
				t.Errorf("Exit called: %q", got)
			}
		})
	}
}

// TestTimeLimit: a session ends after MaxTime with "time limit of Ns
// exceeded", whether it computes or waits.
func TestTimeLimit(t *testing.T) {
	for _, src := range []string{`while true do end`, `sleep(30)`, `local function f() return f() end f()`} {
		var ex exits
		s := newSession(t, Config{Limits: Limits{MaxTime: 300 * time.Millisecond, Exit: ex.exit, Grace: testGrace}})
		start := time.Now()
		task := s.run("=forever", src)
		s.rt.Close()
		if task.Err() != "time limit of 0.3s exceeded" {
			t.Errorf("%s: error %q", src, task.Err())
		}
		if d := time.Since(start); d < 290*time.Millisecond || d > 3*time.Second {
			t.Errorf("%s: ended after %v, want 0.3s", src, d)
		}
		if got := ex.called(); len(got) != 0 {
			t.Errorf("Exit called: %q", got)
		}
	}
}

// TestLimitExit: a session that does not end by itself once past a limit
// (here: the main task is not made to fail by it, as in a shell between
// lines) is ended by Exit, with the line to print.
func TestLimitExit(t *testing.T) {
	var ex exits
	s := newSession(t, Config{Limits: Limits{MaxTime: 100 * time.Millisecond, Exit: ex.exit}})
	for deadline := time.Now().Add(5 * time.Second); len(ex.called()) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	s.rt.Close()
	wantCalls := []string{"time limit of 0.1s exceeded"}
	if got := ex.called(); strings.Join(got, "|") != strings.Join(wantCalls, "|") {
		t.Errorf("Exit called with %q, want %q", got, wantCalls)
	}
}

// TestErrorWhenInterruptible: in a runtime that can be interrupted (the
// shell, the sandbox) a task's error is its own, not "interrupted"; Abort
// is "interrupted".
func TestErrorWhenInterruptible(t *testing.T) {
	for _, cfg := range []Config{{Interruptible: true}, {Sandbox: true}} {
		s := newSession(t, cfg)
		if task := s.run("=x", `error("boom", 0)`); task.Err() != "boom" {
			t.Errorf("error %q, want boom", task.Err())
		}
		fn, err := s.rt.ls.LoadString(`while true do end`)
		if err != nil {
			t.Fatal(err)
		}
		task := s.rt.Spawn("main", fn)
		time.AfterFunc(50*time.Millisecond, task.Abort)
		s.rt.RunUntil(task.Done)
		if task.Err() != "interrupted" {
			t.Errorf("aborted: error %q, want interrupted", task.Err())
		}
	}
}

// TestNoGoroutineInSyscall: while a session waits with its limits and the
// wire view on, none of its goroutines sleeps in a blocking syscall. With
// one processor, such a goroutine holds it each time it wakes and sleeps
// again, until Go's monitor takes it back: the scheduler's goroutine
// stalls meanwhile (a poll(2) every 50 ms made every send/recv loop 50%
// slower).
func TestNoGoroutineInSyscall(t *testing.T) {
	s := newSession(t, Config{Limits: Limits{MaxMemory: 1 << 30, MaxTime: time.Hour}})
	if c, err := wire.Open(nil); err == nil {
		c.Close()
		s.ok(`assert(wire("on"))`)
	}
	s.ok(`sleep(0.2)`) // long enough for a watcher to go back to sleep a few times
	runtime.GC()
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(strings.SplitN(g, "\n", 2)[0], "[syscall") && strings.Contains(g, "sockshell/") {
			t.Errorf("a goroutine sleeps in a syscall:\n%s", g)
		}
	}
}

// TestSoftMemoryLimit: the process's soft memory limit is 1.25× the
// session's, and none is set for no limit or under GOMEMLIMIT.
func TestSoftMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)
	SoftMemoryLimit(64 << 20)
	if got := debug.SetMemoryLimit(-1); got != 80<<20 {
		t.Errorf("soft limit %d, want %d", got, 80<<20)
	}
	debug.SetMemoryLimit(prev)
	SoftMemoryLimit(0)
	t.Setenv("GOMEMLIMIT", "1GiB")
	SoftMemoryLimit(64 << 20)
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Errorf("soft limit %d, want %d (unchanged)", got, prev)
	}
}
