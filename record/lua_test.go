package record

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// This file runs generated scripts in gopher-lua against a scripted fake of
// the Lua API, so tests can check what a replay does, not only what the
// script says.

// step is one call a replay is expected to make, and what the fake returns.
type step struct {
	call string // as the fake formats it: connect(11, "127.0.0.1:50000")
	ret  []lua.LValue
}

// ret builds the results of a step from Go values: int, string, bool, nil.
func ret(vs ...any) []lua.LValue {
	out := make([]lua.LValue, len(vs))
	for i, v := range vs {
		switch x := v.(type) {
		case int:
			out[i] = lua.LNumber(x)
		case string:
			out[i] = lua.LString(x)
		case bool:
			out[i] = lua.LBool(x)
		case nil:
			out[i] = lua.LNil
		default:
			panic(fmt.Sprintf("ret: %T", v))
		}
	}
	return out
}

// compile reports whether gopher-lua accepts script.
func compile(t *testing.T, script string) {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	if _, err := L.LoadString(LuaSource(script)); err != nil {
		t.Fatalf("script does not compile: %v\n%s", err, script)
	}
}

// replay runs script with a fake API whose socket operations must be called
// as steps says, in order, and return what it says; expect, fails, strict
// and at behave as the lua layer's do. Tasks (spawn, wait, sleep) are
// coroutines run in turn: an operation that is not the next step makes its
// task wait for the others, as a call waits for data in a real replay. It
// returns the first error, or the first wrong call when no task can go on.
func replay(script string, steps []step) error {
	L := lua.NewState()
	defer L.Close()
	next := 0
	try := L.NewFunction(func(L *lua.LState) int {
		op := L.CheckString(1)
		args := make([]string, L.GetTop()-1)
		for i := range args {
			args[i] = format(L.Get(i + 2))
		}
		call := op + "(" + strings.Join(args, ", ") + ")"
		if next == len(steps) {
			L.Push(lua.LFalse)
			L.Push(lua.LString(fmt.Sprintf("unexpected call %s after the last step", call)))
			return 2
		}
		s := steps[next]
		if call != s.call {
			L.Push(lua.LFalse)
			L.Push(lua.LString(fmt.Sprintf("step %d: got call %s, want %s", next+1, call, s.call)))
			return 2
		}
		next++
		L.Push(lua.LTrue)
		for _, v := range s.ret {
			L.Push(v)
		}
		return 1 + len(s.ret)
	})
	L.SetGlobal("try", try)
	ops := L.NewTable()
	for op := range operations {
		ops.Append(lua.LString(op))
	}
	L.SetGlobal("ops", ops)
	L.SetGlobal("strict", L.NewFunction(func(*lua.LState) int { return 0 }))
	L.SetGlobal("at", L.NewFunction(func(*lua.LState) int { return 0 }))
	L.SetGlobal("expect", L.NewFunction(func(L *lua.LState) int {
		if got, want := L.Get(1), L.Get(2); !L.Equal(got, want) {
			L.RaiseError("expected %s, got %s", format(want), format(got))
		}
		return 0
	}))
	L.SetGlobal("where", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(L.Where(2)))
		return 1
	}))
	L.SetGlobal("show", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(format(L.Get(1))))
		return 1
	}))
	main, err := L.LoadString(LuaSource(script))
	if err != nil {
		return err
	}
	L.SetGlobal("main", main)
	if err := L.DoString(fakeTasks); err != nil {
		return err
	}
	if next != len(steps) {
		return fmt.Errorf("replay made %d of %d calls", next, len(steps))
	}
	return nil
}

// fakeTasks runs main and the tasks it spawns as coroutines, in turn.
const fakeTasks = `
local live, clock, moves, wrong = {}, 0, 0, nil
for _, op in ipairs(ops) do
  _G[op] = function(...)
    while true do
      local r = {try(op, ...)}
      if r[1] then moves = moves + 1 return unpack(r, 2) end
      wrong = where() .. " " .. r[2]
      coroutine.yield()
    end
  end
end
function fails(code, fn, ...)
  local got, _, gotCode = fn(...)
  if got ~= nil or tostring(gotCode) ~= code then error(where() .. " expected " .. code .. ", got " .. show(got), 0) end
end
function spawn(f, ...)
  local args = {...}
  local t = {co = coroutine.create(function() return f(unpack(args)) end)}
  live[#live + 1] = t
  return t
end
function sleep() clock = clock + 1 moves = moves + 1 coroutine.yield() end
function now() return clock end
function wait(t) while coroutine.status(t.co) ~= "dead" do coroutine.yield() end return true end
function pcall(f, ...) return true, f(...) end
spawn(main)
while #live > 0 do
  local before = moves
  for i = #live, 1, -1 do
    local t = live[i]
    local ok, msg = coroutine.resume(t.co)
    if not ok then error(msg, 0) end
    if coroutine.status(t.co) == "dead" then table.remove(live, i) moves = moves + 1 end
  end
  if moves == before then error(wrong, 0) end
end
`

func format(v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return strconv.Quote(string(x))
	case lua.LNumber:
		return x.String()
	}
	return v.String()
}

// dataScript returns a script in which data is received on a stream
// socket, sent, and received again as a datagram with a captured sender.
func dataScript(t *testing.T, data string) string {
	var b strings.Builder
	w, err := NewWriter(&b, Header{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []Event{
		ok(call("socket", str("inet"), str("stream")), fd(3)),
		ok(call("recv", fd(3)), payload(data)),
		ok(call("send", fd(3), payload(data)), integer(len(data))),
		ok(call("socket", str("inet"), str("dgram")), fd(4)),
		ok(call("recvfrom", fd(4)), payload(data), addr("127.0.0.1:40000")),
	} {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// roundTrip runs the script for data and returns the strings that reached
// expect and send.
func roundTrip(t *testing.T, data string) (got []string) {
	t.Helper()
	script := dataScript(t, data)
	L := lua.NewState(lua.Options{SkipOpenLibs: true, CallStackSize: 16, RegistrySize: 1024})
	defer L.Close()
	capture := func(i int) *lua.LFunction {
		return L.NewFunction(func(L *lua.LState) int {
			got = append(got, L.CheckString(i))
			return 0
		})
	}
	constant := func(vs ...lua.LValue) *lua.LFunction {
		return L.NewFunction(func(L *lua.LState) int {
			for _, v := range vs {
				L.Push(v)
			}
			return len(vs)
		})
	}
	L.SetGlobal("expect", capture(2))
	L.SetGlobal("send", capture(2))
	L.SetGlobal("strict", constant())
	L.SetGlobal("socket", constant(lua.LNumber(3)))
	L.SetGlobal("recv", constant(lua.LString("")))
	L.SetGlobal("recvn", constant(lua.LString("")))
	L.SetGlobal("recvfrom", constant(lua.LString(""), lua.LString("127.0.0.1:40001")))
	if err := L.DoString(LuaSource(script)); err != nil {
		t.Fatalf("%v\n%s", err, script)
	}
	return got
}

// hostile are payloads that would do harm if they were not written as
// inert data.
var hostile = []string{
	`") os.execute("touch /tmp/pwned") --`,
	"\n os.execute('touch /tmp/pwned') --",
	"\r os.execute('touch /tmp/pwned')",
	"]]", "]=]", "[[", "--[[", `\`, `\"`, `"`, "'",
	"\x00", "\x001", "\x00\x00", "\x7f9", "\xff", "\xc3\xa9", "\xe2\x80\xa8",
	"a\nb\nc\nd\nlooooooooooooooooooooooooooooooooooooooooong enough to split\n",
	"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: sockshell\r\n\r\n",
}

func FuzzDataRoundTrip(f *testing.F) {
	for _, s := range hostile {
		f.Add([]byte(s))
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
		f.Add([]byte{byte(i), '1', '2'})
	}
	f.Add(all)
	f.Fuzz(func(t *testing.T, b []byte) {
		data := string(b)
		got := roundTrip(t, data)
		// recv, send, then the datagram's check.
		want := []string{data, data, data}
		if len(got) != len(want) {
			t.Fatalf("got %d strings, want %d: %q", len(got), len(want), got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("string %d: got %q, want %q", i, got[i], want[i])
			}
		}
	})
}

// FuzzComments checks that text the writer puts in comments (a peer's
// address, an error message, the command line) never leaks into code.
func FuzzComments(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		w, err := NewWriter(&b, Header{Version: s, Command: []string{"sockshell", "-e", s}})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range []Event{
			ok(call("socket", str("unix"), str("stream")), fd(3)),
			ok(call("accept", fd(3)), fd(4), addr(s)),
			failed(call("connect", fd(4), addr("/x")), "ENOENT", s),
			ok(call("getpeername", fd(4)), addr(s)),
		} {
			if err := w.Write(ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		script := b.String()
		if n := strings.Count(script, "\n"); n != 9 {
			t.Fatalf("script has %d lines, want 9:\n%s", n, script)
		}
		err = replay(script, []step{
			{`socket("unix", "stream")`, ret(7)},
			{`accept(7)`, ret(8, "")},
			{`connect(8, "/x")`, ret(nil, "no such file", "ENOENT")},
			{`getpeername(8)`, ret("")},
		})
		if err != nil {
			t.Fatalf("%v\n%s", err, script)
		}
	})
}
