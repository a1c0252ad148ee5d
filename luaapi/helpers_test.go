package luaapi

import (
	"regexp"
	"strings"
	"testing"
)

// errAt runs src as the chunk "NAME" in a fresh session and returns the
// error it raised.
func errAt(t *testing.T, name, src string) string {
	t.Helper()
	s := newSession(t, Config{})
	task := s.run(name, src)
	if task.Err() == "" {
		t.Fatalf("no error; results %s", showAll(task.Results()))
	}
	return task.Err()
}

func TestExpectPasses(t *testing.T) {
	res := runOK(t, `
return expect("a", "a"), expect(42, 42), expect(true, true), expect(nil, nil),
  expect("hello 42", {match = "%d+"}),
  #expect({1, 2, {a = "x", [5] = false}}, {1, 2, {a = "x", [5] = false}}),
  expect("", ""), expect("\0\255", "\0\255"),
  expect("abc", {match = "^abc$"}, "with a message")
`)
	wantResults(t, res, `("a", 42, true, nil, "hello 42", 3, "", "\0\xff", "abc")`)
}

func TestExpectFailures(t *testing.T) {
	tests := []struct{ name, call, want string }{
		{"strings", `expect("a", "b")`, `expect.lua:4: expected "b", got "a"`},
		{"with a message", `expect("a", "b", "greeting")`, `expect.lua:4: greeting: expected "b", got "a"`},
		{"numbers", `expect(1, 2)`, `expect.lua:4: expected 2, got 1`},
		{"number against string", `expect(1, "1")`, `expect.lua:4: expected "1", got 1`},
		{"nil against data", `expect(nil, "x")`, `expect.lua:4: expected "x", got nil`},
		{"bytes shown escaped", `expect("a\r\n\0", "b\t\255")`, `expect.lua:4: expected "b\t\xff", got "a\r\n\0"`},
		{"pattern", `expect("hello", {match = "^%d"})`, `expect.lua:4: expected a match for "^%d", got "hello"`},
		{"pattern against a number", `expect(42, {match = "4"})`, `expect.lua:4: expected a match for "4", got 42`},
		{"pattern with a message", `expect("x", {match = "y"}, "m")`, `expect.lua:4: m: expected a match for "y", got "x"`},
		{"tables", `expect({1, 2}, {1, 3})`, `expect.lua:4: expected {1, 3}, got {1, 2}`},
		{"table with a key more", `expect({a = 1}, {a = 1, b = 2})`, `expect.lua:4: expected {a = 1, b = 2}, got {a = 1}`},
		{"table against a string", `expect({}, "x")`, `expect.lua:4: expected "x", got {}`},
		{"one argument", `expect("x")`, `expect.lua:4: expect: EINVAL: expected two values to compare: expect(got, want [, msg])`},
		{"a failed call's first result", `expect(recv(c, 10, 0.01), "x")`, `expect.lua:4: expected "x", got nil`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "local c = socket(\"inet\", \"stream\")\n\n\n" + tt.call + "\nreturn 1"
			if got := errAt(t, "expect.lua", src); got != tt.want {
				t.Errorf("error\n  %s\nwant\n  %s", got, tt.want)
			}
		})
	}
}

// TestExpectLineInFunctionAndTask: the error names the line of the expect
// call, wherever it is.
func TestExpectLineInFunctionAndTask(t *testing.T) {
	got := errAt(t, "f.lua", `
local function check(x)
  expect(x, "two")
end
local t = spawn(function()
  sleep(0.01)
  check("one")
end)
local _, msg = wait(t)
error(msg, 0)
`)
	if want := `f.lua:3: expected "two", got "one"`; got != want {
		t.Errorf("error %q; want %q", got, want)
	}
}

func TestExpectTableCycles(t *testing.T) {
	// Cyclic tables compare without running away.
	got := errAt(t, "cyc.lua", `
local a, b = {}, {}
for i = 1, 10 do a[i] = a; b[i] = b end
expect(a, b)
`)
	if !strings.HasPrefix(got, "cyc.lua:4: expected {") {
		t.Errorf("error %q", got)
	}
	runOK(t, `local a = {} a.self = a expect(a, a)`)
}

func TestStrict(t *testing.T) {
	tests := []struct{ name, call, want string }{
		{"fast path", `close(999)`,
			`strict.lua:6: close: expected success, got close 999: EBADF: bad file descriptor (not a socket of this session)`},
		{"after a wait", `recv(c, 10, 0.05)`,
			`strict.lua:6: recv: expected success, got recv C: ETIMEDOUT: timed out`},
		{"in a function", `;(function() return bind(c, "nonsense") end)()`,
			`strict.lua:6: bind: expected success, got bind C nonsense: EINVAL: `},
		{"in an expression", `local x = 1 + (socket("inet", "raw") or 0)`,
			`strict.lua:6: socket: expected success, got socket: EINVAL: bad type "raw": expected stream, dgram or seqpacket`},
		{"in a task (wait is checked too)", `wait(spawn(function() sleep(0.01) close(999) end))`,
			`strict.lua:6: wait: expected success, got strict.lua:6: close: expected success, got close 999: EBADF:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errAt(t, "strict.lua", `
local l = socket("inet", "stream")
bind(l, "127.0.0.1:0") listen(l)
local c = socket("inet", "stream") connect(c, getsockname(l))
strict(true)
`+tt.call+`
return "no error"`)
			got = regexp.MustCompile(` \d+( |:)`).ReplaceAllStringFunc(got, func(s string) string {
				if strings.Contains(s, "999") {
					return s
				}
				return strings.Replace(s, strings.TrimSpace(strings.TrimSuffix(s, ":")), "C", 1)
			})
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("error\n  %s\nwant it to start\n  %s", got, tt.want)
			}
		})
	}
}

func TestStrictOffAndSuccess(t *testing.T) {
	res := runOK(t, `
strict(true)
local fd = socket("inet", "stream")   -- success goes through unchanged
local n = timeout()                   -- not a checked operation
strict(true)                          -- twice is the same as once
strict(false)
local x, msg, code = close(999)
strict(false)
return type(fd), n, x, code
`)
	wantResults(t, res, `("number", 10, nil, "EBADF")`)
}

func TestFails(t *testing.T) {
	res := runOK(t, pair+`
local x, msg, code = fails("EBADF", close, 999)
local t0 = now()
local y, _, code2 = fails("ETIMEDOUT", recv, c, 100, 0.1)
local waited = now() - t0
strict(true)
local z, _, code3 = fails("EBADF", close, 999)    -- strict does not get in the way
local w, _, code4 = fails("ETIMEDOUT", recv, c, 100, 0.02)
strict(false)
return x, code, msg, y, code2, waited >= 0.09, z, code3, w, code4
`)
	wantResults(t, res, `(nil, "EBADF", "close 999: EBADF: bad file descriptor (not a socket of this session)", nil, "ETIMEDOUT", true, nil, "EBADF", nil, "ETIMEDOUT")`)
}

func TestFailsRaises(t *testing.T) {
	tests := []struct{ name, call, want string }{
		{"success", `fails("EBADF", send, c, "x")`, `fails.lua:LINE: expected EBADF, got success`},
		{"another code", `fails("ECONNREFUSED", close, 999)`,
			`fails.lua:LINE: expected ECONNREFUSED, got close 999: EBADF: bad file descriptor (not a socket of this session)`},
		{"another code after a wait", `fails("ECONNRESET", recv, c, 100, 0.05)`,
			`fails.lua:LINE: expected ECONNRESET, got recv N: ETIMEDOUT: timed out`},
		{"success after a wait", `fails("ETIMEDOUT", recv, a, 100, 1)`, `fails.lua:LINE: expected ETIMEDOUT, got success`},
		{"under strict", `strict(true) fails("EBADF", send, c, "x")`, `fails.lua:LINE: expected EBADF, got success`},
		{"not a function", `fails("EBADF", 42)`, `fails.lua:LINE: fails: expected a function as argument 2, got number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prologue := pair + `
spawn(function() sleep(0.02) send(c, "late") end)
`
			got := errAt(t, "fails.lua", prologue+tt.call+"\nreturn 1")
			got = regexp.MustCompile(`recv \d+:`).ReplaceAllString(got, "recv N:")
			if want := atLine(tt.want, prologue); got != want {
				t.Errorf("error\n  %s\nwant\n  %s", got, want)
			}
		})
	}
}

// TestStrictTailCall: under strict, `return op(...)` names a line of the
// script, never the prelude's.
func TestStrictTailCall(t *testing.T) {
	for _, src := range []string{
		"strict(true)\nreturn close(999)\n",
		"strict(true)\nlocal function f()\n  return close(999)\nend\nreturn f()\n",
		"strict(true)\nlocal _, m = wait(spawn(function()\n  return close(999)\nend))\n",
	} {
		s := newSession(t, Config{})
		task := s.run("tail.lua", src)
		// A tail call at the chunk's top level leaves no frame of the
		// script to name (Lua 5.1 drops it); elsewhere the line is named.
		topLevel := !strings.Contains(src, "wait(") // only tail calls lead there
		if strings.Contains(task.Err(), "prelude") || !topLevel && !strings.HasPrefix(task.Err(), "tail.lua:") {
			t.Errorf("%q raised %q; want the script's position (tail.lua:LINE:), not the prelude's", src, task.Err())
		}
	}
}

// TestLazyPrelude: the prelude loads on the first use of a name it defines,
// whichever way the name is reached — a plain reference, _G[name], or after
// the script gives the globals a metatable of its own.
func TestLazyPrelude(t *testing.T) {
	for _, src := range []string{
		`return pcall(function() return "ok" end)`,
		`return _G["xpcall"](function() return "ok" end, print)`,
		`setmetatable(_G, {__index = function(_, k) error("undefined global " .. k, 2) end})
		 return pcall(function() return "ok" end)`,
		`local co = coroutine.wrap(function() return "ok" end) return true, co()`,
		`strict(true) return fails("EBADF", close, 999) == nil, "ok"`,
	} {
		s := newSession(t, Config{})
		task := s.run("lazy.lua", src)
		if task.Err() != "" {
			t.Fatalf("%s: %s", src, task.Err())
		}
		wantResults(t, task.Results(), `(true, "ok")`)
	}
}

// TestHelpComplete: every command help lists has help of its own, with
// its own example of failure and no reference to itself.
func TestHelpComplete(t *testing.T) {
	for _, name := range append(commandNames(), "exit", "quit") {
		text := Help(name)
		if text == "" {
			t.Errorf("help %s: nothing", name)
			continue
		}
		if strings.Contains(text, "see help "+name) {
			t.Errorf("help %s refers to itself:\n%s", name, text)
		}
		if s, ok := Lookup(name); ok && s.checked {
			if ex := failExamples[name]; !strings.HasPrefix(ex, name+" ") && !strings.HasPrefix(ex, name+":") {
				t.Errorf("help %s: the failure example %q is not %s's", name, ex, name)
			}
		}
	}
	if text := Help("recv"); !strings.Contains(text, "-x") || !strings.Contains(text, "-a") {
		t.Errorf("help recv does not mention -x and -a:\n%s", text)
	}
	if !strings.Contains(Help(""), "quit") {
		t.Errorf("help does not list quit")
	}
}

func TestNearest(t *testing.T) {
	for word, want := range map[string]string{"sockett": "socket", "sokcet": "socket", "conect": "connect",
		"fdss": "fds", "recvv": "recv", "dail": "dial", "lsiten": "listen", "end": "", "x": "", "socket": "", "banana": ""} {
		if got := Nearest(word); got != want {
			t.Errorf("Nearest(%q) = %q; want %q", word, got, want)
		}
	}
}
