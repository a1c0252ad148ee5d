package luaapi

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// TestManyClientsOneServer runs a server task that spawns a task per
// connection, each sleeping 20 ms before it answers, against 300 client
// tasks in the same chunk: all are served, and the waits overlap.
func TestManyClientsOneServer(t *testing.T) {
	const clients = 300
	const delay = 20 * time.Millisecond
	s := newSession(t, Config{})
	start := time.Now()
	res := s.ok(fmt.Sprintf(`
local N = %d
local srv = socket("inet", "stream")
assert(bind(srv, "127.0.0.1:0"))
assert(listen(srv, 1024))
local addr = getsockname(srv)
local served = 0
local function handle(fd)
  local req = assert(recvline(fd))
  sleep(0.02)
  assert(sendline(fd, "re:" .. req))
  close(fd)
  served = served + 1
end
spawn(function()
  while true do
    local fd = accept(srv)
    if not fd then return end
    spawn(handle, fd)
  end
end)
local ts = {}
for i = 1, N do
  ts[i] = spawn(function()
    local fd = assert(socket("inet", "stream"))
    assert(connect(fd, addr))
    assert(sendline(fd, "hi" .. i))
    local r = assert(recvline(fd))
    close(fd)
    return r
  end)
end
local good = 0
for i = 1, N do
  local r, msg = wait(ts[i])
  if r == "re:hi" .. i then good = good + 1 else print(i, r, msg) end
end
close(srv)
return good, served
`, clients))
	elapsed := time.Since(start)
	wantResults(t, res, fmt.Sprintf("(%d, %d)", clients, clients))
	if limit := clients * delay / 3; elapsed > limit {
		t.Errorf("%d clients took %v; want well under %v (the 20 ms waits overlap)", clients, elapsed, limit)
	}
	if s.out.Len() > 0 || s.errOut.Len() > 0 {
		t.Errorf("output:\n%s%s", s.out, s.errOut)
	}
	if n := s.rt.FailedTasks(); n != 0 {
		t.Errorf("FailedTasks() = %d; want 0", n)
	}
	if n := s.rt.table.Len(); n != 0 {
		t.Errorf("%d descriptors left open", n)
	}
	t.Logf("%d round trips with a 20 ms server delay in %v", clients, elapsed)
}

func TestPcallAroundWaitingCall(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"recv waits then succeeds",
			`return pcall(recv, a, 100, 2)`, `(true, "late")`},
		{"recv in a function",
			`return pcall(function() local x = recv(a, 100, 2) return x .. "!" end)`, `(true, "late!")`},
		{"tail call in the function",
			`return pcall(function() return recv(a, 100, 2) end)`, `(true, "late")`},
		{"timeout returns, does not raise",
			`local ok, x, msg, code = pcall(recv, c, 100, 0.05) return ok, x, code`, `(true, nil, "ETIMEDOUT")`},
		{"error after a wait is caught",
			`return pcall(function() sleep(0.01) error("boom") end)`, `(false, "x.lua:LINE: boom")`},
		{"error value after a wait",
			`return pcall(function() sleep(0.01) error({code = 7}) end)`, `(false, {code = 7})`},
		{"nested pcall",
			`return pcall(pcall, recv, a, 100, 2)`, `(true, true, "late")`},
		{"xpcall success",
			`return xpcall(function() return recv(a, 100, 2) end, function(e) return "h: " .. e end)`, `(true, "late")`},
		{"xpcall handler sees the error",
			`return xpcall(function() recv(a, 100, 2) error("after") end, function(e) return "h: " .. e end)`, `(false, "h: x.lua:LINE: after")`},
		{"xpcall of a non-function calls the handler",
			`return xpcall(42, function(e) return "h: " .. e end)`, `(false, "h: attempt to call a number value")`},
		{"pcall of a non-function",
			`return pcall(42)`, `(false, "attempt to call a number value")`},
		{"pcall keeps going after the wait",
			`local ok1, v1 = pcall(recv, a, 100, 2)
			 local ok2, v2, m2, code = pcall(recv, a, 100, 0.05)
			 return ok1, v1, ok2, v2, code`, `(true, "late", true, nil, "ETIMEDOUT")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(t, Config{})
			prologue := pair + `
spawn(function() sleep(0.03) send(c, "late") end)
`
			task := s.run("x.lua", prologue+tt.src)
			if task.Err() != "" {
				t.Fatalf("raised %s", task.Err())
			}
			wantResults(t, task.Results(), atLine(tt.want, prologue))
		})
	}
}

func TestWaitForTask(t *testing.T) {
	s := newSession(t, Config{})
	res := s.ok(`
local t1 = spawn(function(a, b) sleep(0.01) return a + b, "two", nil end, 1, 2)
local r = {wait(t1)}
local again = {wait(t1)} -- a finished task gives its values again
local slow = spawn(function() sleep(5) return "late" end)
local t0 = now()
local x, msg, code = wait(slow, 0.1)
local waited = now() - t0
kill(slow)
local bad = spawn(function() sleep(0.01) error("task broke") end)
local y, bmsg, bcode = wait(bad)
return r[1], r[2], #again, x, code, msg, waited >= 0.09 and waited < 2, y, bcode, bmsg
`)
	wantResults(t, res, `(3, "two", 2, nil, "ETIMEDOUT", "wait task 2: ETIMEDOUT: timed out", true, nil, "ETASK", "=test:10: task broke")`)
	if !strings.Contains(s.errOut.String(), "task 3: =test:10: task broke") {
		t.Errorf("stderr %q; want the failed task reported", s.errOut)
	}
	if n := s.rt.FailedTasks(); n != 1 {
		t.Errorf("FailedTasks() = %d; want 1", n)
	}
}

func TestWaitForTaskByNumberAndSelf(t *testing.T) {
	s := newSession(t, Config{})
	res := s.ok(`
local t1 = spawn(function() sleep(0.01) return "one" end)
local byNumber = wait(1)
local _, _, none = wait(99)
local t3
t3 = spawn(function() return wait(t3) end)
local _, _, selfcode = wait(t3)
return byNumber, none, selfcode
`)
	wantResults(t, res, `("one", "ESRCH", "EDEADLK")`)
}

func TestKill(t *testing.T) {
	s := newSession(t, Config{})
	res := s.ok(pair + `
local got = "nothing"
local function others() -- tasks besides this one
  local n = 0
  for _, t in ipairs(tasks()) do n = n + 1 end
  return n
end
local reader = spawn(function() got = recv(a) end)
local sleeper = spawn(function() sleep(5) got = "woke" end)
local ready = spawn(function() got = "ran" end) -- killed before it first runs
kill(ready)
sleep(0.02)
local before = others()
kill(reader)
kill(sleeper)
send(c, "data")
sleep(0.02)
local x, msg, code = wait(reader)
local _, _, kcode = kill(99)
return got, before, others(), x, code, msg:match("cancelled") ~= nil, kcode, recv(a)
`)
	wantResults(t, res, `("nothing", 2, 0, nil, "ECANCELED", true, "ESRCH", "data")`)
	if n := s.rt.FailedTasks(); n != 0 {
		t.Errorf("FailedTasks() = %d; want 0: a killed task did not fail", n)
	}
}

func TestKillSelf(t *testing.T) {
	s := newSession(t, Config{})
	task := s.run("k.lua", `
local t
t = spawn(function() kill(t) return "after" end)
return wait(t)
`)
	if task.Err() != "" {
		t.Fatal(task.Err())
	}
	res := task.Results()
	if len(res) != 3 || res[0] != lua.LNil || res[2].String() != "ETASK" || !strings.Contains(res[1].String(), "killed") {
		t.Errorf("wait of a task that killed itself: %s; want nil, \"...killed\", \"ETASK\"", showAll(res))
	}
}

// TestCancelInterrupt cancels a waiting call from Go as Ctrl-C does: the
// call returns EINTR and the task goes on.
func TestCancelInterrupt(t *testing.T) {
	s := newSession(t, Config{})
	fn, err := s.rt.ls.LoadString(pair + `
local x, msg, code = recv(a)
local after = info(a).state
send(c, "still works")
return x, code, msg, after, recv(a)
`)
	if err != nil {
		t.Fatal(err)
	}
	task := s.rt.Spawn("main", fn)
	s.rt.RunUntil(func() bool { return strings.HasPrefix(task.State(), "waiting: recv") })
	if task.Done() {
		t.Fatalf("task ended early: %s", task.Err())
	}
	s.rt.Cancel(task, true)
	s.rt.RunUntil(task.Done)
	if task.Err() != "" {
		t.Fatal(task.Err())
	}
	res := task.Results()
	if len(res) != 5 || res[0] != lua.LNil || res[1].String() != "EINTR" ||
		!regexp.MustCompile(`^recv \d+: EINTR: interrupted$`).MatchString(res[2].String()) ||
		res[3].String() != "connected" || res[4].String() != "still works" {
		t.Errorf("results %s; want nil, EINTR, \"recv N: EINTR: interrupted\", connected, \"still works\"", showAll(res))
	}
}

// TestCancelFromAnotherGoroutine cancels through Post, as the shell's
// signal handler does.
func TestCancelFromAnotherGoroutine(t *testing.T) {
	s := newSession(t, Config{})
	fn, err := s.rt.ls.LoadString(`return sleep(30)`)
	if err != nil {
		t.Fatal(err)
	}
	task := s.rt.Spawn("main", fn)
	timer := time.AfterFunc(50*time.Millisecond, func() {
		s.rt.Post(func() { s.rt.Cancel(task, true) })
	})
	defer timer.Stop()
	start := time.Now()
	s.rt.RunUntil(task.Done)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancel took %v", d)
	}
	res := task.Results()
	if len(res) != 3 || res[2].String() != "EINTR" {
		t.Errorf("sleep cancelled: %s; want nil, msg, \"EINTR\"", showAll(res))
	}
}

func TestFailingTaskIsReported(t *testing.T) {
	s := newSession(t, Config{})
	task := s.run("tasks.lua", `
local a = spawn(function() sleep(0.01) return "a" end)
local b = spawn(function()
  sleep(0.005)
  error("b broke")
end)
local c = spawn(function() local t = nil; return t.field end)
local d = spawn(function() sleep(0.02) return "d" end)
return wait(a), wait(d), (select(3, wait(b))), (select(3, wait(c)))
`)
	if task.Err() != "" {
		t.Fatal(task.Err())
	}
	wantResults(t, task.Results(), `("a", "d", "ETASK", "ETASK")`)
	stderr := s.errOut.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^task 2: tasks\.lua:5: b broke$`),
		regexp.MustCompile(`(?m)^task 3: tasks\.lua:7: .*field`),
	} {
		if !want.MatchString(stderr) {
			t.Errorf("stderr %q; want a line matching %s", stderr, want)
		}
	}
	if n := strings.Count(stderr, "\n"); n != 2 {
		t.Errorf("stderr has %d lines; want 2:\n%s", n, stderr)
	}
	if strings.Contains(stderr, "stack traceback") {
		t.Errorf("stderr carries a traceback:\n%s", stderr)
	}
	if n := s.rt.FailedTasks(); n != 2 {
		t.Errorf("FailedTasks() = %d; want 2", n)
	}
}

func TestPoll(t *testing.T) {
	s := newSession(t, Config{})
	res := s.ok(pair + `
local l2 = socket("inet", "stream")
local t0 = now()
local none = poll({a, c}, 0.1)
local waited = now() - t0
local zero = poll({a, c}, 0)
spawn(function() sleep(0.02) send(c, "x") end)
local r = poll({c, a}, 2)
local w = poll({a, c}, 0, "w")
local _, _, bad = poll({a, 9999}, 0)
local empty = poll({}, 1)
return #none, waited >= 0.09, #zero, #r, r[1] == a, #w, bad, #empty
`)
	wantResults(t, res, `(0, true, 0, 1, true, 2, "EBADF", 0)`)
}

// TestPollSeesBufferedBytes: bytes a framing helper read and kept count as
// readable, though the kernel has none.
func TestPollSeesBufferedBytes(t *testing.T) {
	res := runOK(t, pair+`
send(c, "abc")
local x, _, code = recvline(a, 0.1)
local r = poll({a}, 0)
return code, #r, recv(a)
`)
	wantResults(t, res, `("ETIMEDOUT", 1, "abc")`)
}

func TestNonblock(t *testing.T) {
	res := runOK(t, pair+`
nonblock(a, true)
local t0 = now()
local x, msg, code = recv(a)
local fast = now() - t0 < 0.05
spawn(function() sleep(0.02) send(c, "now") end)
local r = poll({a}, 2)
local y = recv(a)
local _, _, acode = accept(a)
nonblock(a, false)
local z, _, tcode = recv(a, 10, 0.02)
return x, code, fast, #r, y, tcode
`)
	wantResults(t, res, `(nil, "EAGAIN", true, 1, "now", "ETIMEDOUT")`)
}

func TestNonblockAccept(t *testing.T) {
	res := runOK(t, `
local l = socket("inet", "stream")
bind(l, "127.0.0.1:0")
listen(l)
nonblock(l, "on")
local _, _, code = accept(l)
local c = socket("inet", "stream")
connect(c, getsockname(l))
local r = poll({l}, 2)
local fd = accept(l)
return code, #r, type(fd)
`)
	wantResults(t, res, `("EAGAIN", 1, "number")`)
}

func TestSleepAndNow(t *testing.T) {
	s := newSession(t, Config{})
	start := time.Now()
	res := s.ok(`
local t0 = now()
local r = sleep(0.05)
local d = now() - t0
local t1 = now()
sleep(0)
sleep("10ms")
return r, d >= 0.049, d < 2, math.abs(t0 - os.time()) < 5, now() - t1 >= 0.009
`)
	wantResults(t, res, `(true, true, true, true, true)`)
	if time.Since(start) < 50*time.Millisecond {
		t.Errorf("sleep(0.05) did not wait")
	}
}

// TestSleepingTasksInterleave: sleeps run alongside, not one after another.
func TestSleepingTasksInterleave(t *testing.T) {
	s := newSession(t, Config{})
	start := time.Now()
	res := s.ok(`
local order = {}
local ts = {}
for i = 5, 1, -1 do
  ts[#ts + 1] = spawn(function() sleep(i * 0.02) order[#order + 1] = i end)
end
for _, t in ipairs(ts) do wait(t) end
return table.concat(order, ",")
`)
	wantResults(t, res, `("1,2,3,4,5")`)
	if d := time.Since(start); d > 1*time.Second {
		t.Errorf("5 sleeps of at most 100 ms took %v", d)
	}
}

// User coroutines: a socket call inside a coroutine waits for its
// descriptor; the coroutine's resumer does not see the scheduler's yields.
func TestSocketCallsInUserCoroutines(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"resume: call in the body",
			`local co = coroutine.create(function() local x = recv(a) return "got " .. x end)
			 return coroutine.resume(co)`, `(true, "got late")`},
		{"resume: call then yield",
			`local co = coroutine.create(function()
			   local x = recv(a)
			   local y = coroutine.yield(x)
			   return y .. "+" .. recv(a)
			 end)
			 local ok1, v1 = coroutine.resume(co)
			 send(c, "more")
			 local ok2, v2 = coroutine.resume(co, "back")
			 return ok1, v1, ok2, v2, coroutine.status(co)`, `(true, "late", true, "back+more", "dead")`},
		{"wrap: call in the body",
			`local f = coroutine.wrap(function() local x = recv(a) return x end)
			 return f()`, `("late")`},
		{"wrap: generator of received lines",
			`send(c, "L1\n2\n3\n")
			 local lines = coroutine.wrap(function()
			   for i = 1, 3 do coroutine.yield(recvline(a)) end
			 end)
			 return lines(), lines(), lines()`, `("L1", "2", "3")`},
		{"wrap: error after a wait raises in the caller",
			`local f = coroutine.wrap(function() recv(a) error("in co") end)
			 return pcall(f)`, `(false, "x.lua:LINE: in co")`},
		{"resume: tail call of recv is the body's result",
			`local co = coroutine.create(function() return recv(a) end)
			 return coroutine.resume(co)`, `(true, "late")`},
		{"wrap: tail call of recv is the body's result",
			`local f = coroutine.wrap(function() return recv(a) end)
			 return f()`, `("late")`},
		{"resume: tail call, then the coroutine is dead",
			`local co = coroutine.create(function() return recv(a) end)
			 local ok, v = coroutine.resume(co)
			 local ok2, msg = coroutine.resume(co)
			 return ok, v, coroutine.status(co), ok2, type(msg)`, `(true, "late", "dead", false, "string")`},
		{"wrap: tail call, then calling again is an error",
			`local f = coroutine.wrap(function() return recv(a) end)
			 local x = f()
			 local ok, msg = pcall(f)
			 return x, ok, type(msg)`, `("late", false, "string")`},
		{"resume: tail call of sleep",
			`local co = coroutine.create(function() return sleep(0.01) end)
			 return coroutine.resume(co)`, `(true, true)`},
		{"coroutine inside a coroutine",
			`local outer = coroutine.wrap(function()
			   local inner = coroutine.wrap(function() return "in:" .. recv(a) end)
			   return "out:" .. inner()
			 end)
			 return outer()`, `("out:in:late")`},
		{"timeout inside a coroutine",
			`local co = coroutine.create(function() return recv(c, 10, 0.02) end)
			 local ok, x, msg, code = coroutine.resume(co)
			 return ok, x, code`, `(true, nil, "ETIMEDOUT")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(t, Config{})
			prologue := pair + `
spawn(function() sleep(0.02) send(c, "late") end)
`
			task := s.run("x.lua", prologue+tt.src)
			if task.Err() != "" {
				t.Fatalf("raised %s", task.Err())
			}
			wantResults(t, task.Results(), atLine(tt.want, prologue))
		})
	}
}

// TestYieldTailCall pins that `return coroutine.yield(x)` in a coroutine
// resumed from Lua works: gopher-lua v1.1.2 crashes on a tail call of the
// builtin yield, and the prelude's yield is a Lua function.
func TestYieldTailCall(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"resume", `
local co = coroutine.create(function(x) return coroutine.yield(x + 1) end)
local ok1, v1 = coroutine.resume(co, 1)
local ok2, v2 = coroutine.resume(co, "back")
local ok3 = coroutine.resume(co)
return ok1, v1, ok2, v2, ok3, coroutine.status(co)`, `(true, 2, true, "back", false, "dead")`},
		{"wrap", `
local f = coroutine.wrap(function(x) return coroutine.yield(x .. "!") end)
return f("a"), f("b")`, `("a!", "b")`},
		{"loop of tail yields", `
local co = coroutine.wrap(function(n)
  local function step(i) if i > 3 then return "done" end coroutine.yield(i) return step(i + 1) end
  return step(n)
end)
return co(1), co(), co(), co()`, `(1, 2, 3, "done")`},
		{"yield of several values", `
local co = coroutine.create(function(...) return coroutine.yield(...) end)
local r1 = {coroutine.resume(co, 1, nil, 3)}
local r2 = {coroutine.resume(co, "x", "y")}
return #r1, r1[4], r2[2], r2[3]`, `(4, 3, "x", "y")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(t, Config{})
			task := s.run("y.lua", tt.src)
			if task.Err() != "" {
				t.Fatalf("raised %s", task.Err())
			}
			wantResults(t, task.Results(), tt.want)
		})
	}
}

// TestYieldOutsideCoroutine: a task that yields to the scheduler with no
// coroutine of its own fails with a clear message.
func TestYieldOutsideCoroutine(t *testing.T) {
	s := newSession(t, Config{})
	task := s.run("y.lua", `return coroutine.yield(1)`)
	if !strings.Contains(task.Err(), "coroutine.yield outside a coroutine") {
		t.Errorf("error %q; want it to say coroutine.yield is outside a coroutine", task.Err())
	}
}

// TestTailCalls: `return recv(fd)` in task bodies and nested functions
// gives the call's values.
func TestTailCalls(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"main chunk", `return recv(a)`, `("late")`},
		{"main chunk, several values", `return recvfrom(a)`, `("late", "127.0.0.1:PORT")`},
		{"spawned function", `return wait(spawn(function() return recv(a) end))`, `("late")`},
		{"spawned builtin", `return wait(spawn(recv, a))`, `("late")`},
		{"spawned with args", `return wait(spawn(function(fd, n) return recv(fd, n) end, a, 2))`, `("la")`},
		{"nested function", `local function get() return recv(a) end local x = get() return x .. "!"`, `("late!")`},
		{"two levels of nesting", `local function g() return recv(a) end local function f() return g() end return f()`, `("late")`},
		{"tail call in a spawned body's nested function",
			`local function get(fd) return recv(fd) end
			 return wait(spawn(function() local x = get(a) return x, "after" end))`, `("late", "after")`},
		{"tail call of a timed out call", `return recv(c, 10, 0.02)`, `(nil, "recv 0: ETIMEDOUT: timed out", "ETIMEDOUT")`},
		{"tail call of sleep", `return sleep(0.01)`, `(true)`},
		{"tail call of wait", `return wait(spawn(function() sleep(0.01) return 1, 2 end))`, `(1, 2)`},
		{"tail call of a framing helper", `return recvn(a, 4)`, `("late")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(t, Config{})
			src := pair + `
spawn(function() sleep(0.02) send(c, "late") end)
` + tt.src
			task := s.run("x.lua", src)
			if task.Err() != "" {
				t.Fatalf("raised %s", task.Err())
			}
			got := showAll(task.Results())
			got = regexp.MustCompile(`recv \d+:`).ReplaceAllString(got, "recv 0:")
			got = regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(got, "127.0.0.1:PORT")
			if got != tt.want {
				t.Errorf("results %s; want %s", got, tt.want)
			}
		})
	}
}

// TestCallsOutsideTasks: Go code may call the functions with no task
// running; they wait right there.
func TestCallsOutsideTasks(t *testing.T) {
	s := newSession(t, Config{})
	L := s.rt.ls
	if err := L.DoString(pair + `
send(c, "hi")
r1 = recv(a)
local t0 = now()
r2, _, r3 = recv(a, 10, 0.05)
r4 = now() - t0 >= 0.04
r5 = sleep(0.01)
`); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"r1": `"hi"`, "r2": "nil", "r3": `"ETIMEDOUT"`, "r4": "true", "r5": "true"} {
		if got := Show(L.GetGlobal(name)); got != want {
			t.Errorf("%s = %s; want %s", name, got, want)
		}
	}
}

// TestWaitOutsideTask: wait() with no task running cannot yield; it fails
// with EDEADLK, and the scheduler survives the task ending later.
func TestWaitOutsideTask(t *testing.T) {
	s := newSession(t, Config{})
	L := s.rt.ls
	if err := L.DoString(`
tk = spawn(function() sleep(0.01) return "done" end)
w1, w2, w3 = wait(tk)
`); err != nil {
		t.Fatal(err)
	}
	if got := Show(L.GetGlobal("w3")); got != `"EDEADLK"` {
		t.Errorf("wait outside a task gave code %s; want \"EDEADLK\"", got)
	}
	tasks := s.rt.Tasks()
	if len(tasks) != 1 {
		t.Fatalf("%d tasks; want 1", len(tasks))
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("the scheduler panicked when the task ended: %v", r)
			}
		}()
		s.rt.RunUntil(tasks[0].Done)
	}()
}

// TestCloseWakesWaiters: closing a descriptor another task waits on wakes
// that task with EBADF.
func TestCloseWakesWaiters(t *testing.T) {
	res := runOK(t, pair+`
local r = spawn(function() return recv(a) end)
sleep(0.01)
close(a)
local x, msg, code = wait(r)
return x, code, msg:match("closed while waiting") ~= nil
`)
	wantResults(t, res, `(nil, "EBADF", true)`)
}

// TestTasksListing: tasks() names what each waits on.
func TestTasksListing(t *testing.T) {
	res := runOK(t, pair+`
spawn(function() recv(a) end)
spawn(function() sleep(1) end)
sleep(0.01)
local ts = tasks()
local out = {}
for _, t in ipairs(ts) do out[#out + 1] = t.id .. " " .. t.state end
return table.concat(out, "; ")
`)
	got := regexp.MustCompile(`recv \d+`).ReplaceAllString(res[0].String(), "recv N")
	if want := "1 waiting: recv N; 2 waiting: sleep"; got != want {
		t.Errorf("tasks: %q; want %q", got, want)
	}
}

// TestCloseCancelsTasks: the runtime's Close cancels the tasks left
// and closes every descriptor.
func TestCloseCancelsTasks(t *testing.T) {
	rt, err := New(Config{DefaultTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := &session{t: t, rt: rt}
	s.ok(pair + `
spawn(function() recv(a) end)
spawn(function() sleep(10) end)
`)
	if n := len(s.rt.Tasks()); n != 2 {
		t.Fatalf("%d tasks left; want 2", n)
	}
	s.rt.Close()
	if n := len(s.rt.Tasks()); n != 0 {
		t.Errorf("%d tasks after Close; want 0", n)
	}
	if n := s.rt.table.Len(); n != 0 {
		t.Errorf("%d descriptors after Close; want 0", n)
	}
}

// TestWaitWhereNoYield: where gopher-lua cannot yield — a metamethod, a
// for-in iterator the VM calls — a waiting call waits where it is and
// gives its results, and pcall around it works.
func TestWaitWhereNoYield(t *testing.T) {
	res := runOK(t, pair+`
local slow = setmetatable({}, {__index = function(t, k) sleep(0.01) return k .. "!" end})
send(c, "one\ntwo\n")
local got = {}
for line in function() return recvline(a, 1) end do
  got[#got + 1] = line
  if #got == 2 then break end
end
local ok, v = pcall(function() return slow.x end)
return slow.y, table.concat(got, ","), ok, v
`)
	wantResults(t, res, `("y!", "one,two", true, "x!")`)
}
