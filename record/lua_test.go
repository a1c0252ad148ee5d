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
// and at behave as the lua layer's do. It returns the first error.
func replay(script string, steps []step) error {
	L := lua.NewState()
	defer L.Close()
	next := 0
	for op := range operations {
		L.SetGlobal(op, L.NewFunction(func(L *lua.LState) int {
			args := make([]string, L.GetTop())
			for i := range args {
				args[i] = format(L.Get(i + 1))
			}
			call := op + "(" + strings.Join(args, ", ") + ")"
			if next == len(steps) {
				L.RaiseError("unexpected call %s after the last step", call)
			}
			s := steps[next]
			if call != s.call {
				L.RaiseError("step %d: got call %s, want %s", next+1, call, s.call)
			}
			next++
			for _, v := range s.ret {
				L.Push(v)
			}
			return len(s.ret)
		}))
	}
	L.SetGlobal("strict", L.NewFunction(func(*lua.LState) int { return 0 }))
	L.SetGlobal("at", L.NewFunction(func(*lua.LState) int { return 0 }))
	L.SetGlobal("expect", L.NewFunction(func(L *lua.LState) int {
		if got, want := L.Get(1), L.Get(2); !L.Equal(got, want) {
			L.RaiseError("expected %s, got %s", format(want), format(got))
		}
		return 0
	}))
	L.SetGlobal("fails", L.NewFunction(func(L *lua.LState) int {
		code := L.CheckString(1)
		fn := L.CheckFunction(2)
		args := make([]lua.LValue, 0, L.GetTop())
		for i := 3; i <= L.GetTop(); i++ {
			args = append(args, L.Get(i))
		}
		L.CallByParam(lua.P{Fn: fn, NRet: 3}, args...)
		got, gotCode := L.Get(-3), L.Get(-1)
		if got != lua.LNil || gotCode.String() != code {
			L.RaiseError("expected %s, got %s", code, format(got))
		}
		return 0
	}))
	if err := L.DoString(LuaSource(script)); err != nil {
		return err
	}
	if next != len(steps) {
		return fmt.Errorf("replay made %d of %d calls", next, len(steps))
	}
	return nil
}

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
