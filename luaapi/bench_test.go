package luaapi

import (
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// BenchmarkPingPong measures one 1-byte round trip between two connected
// TCP sockets in one script: send, recv, send, recv — the hot path of the
// Lua layer (argument conversion, one syscall per ready call, results).
func BenchmarkPingPong(b *testing.B) {
	benchLoop(b, `
		local l = socket("inet", "stream")
		bind(l, "127.0.0.1:0"); listen(l)
		a = socket("inet", "stream")
		connect(a, getsockname(l))
		b = accept(l)
		setopt(a, "nodelay", true); setopt(b, "nodelay", true)`, `
		local n = ...
		local send, recv, a, b = send, recv, a, b
		for _ = 1, n do
			send(a, "x")
			if recv(b, 1) ~= "x" then error("lost a byte") end
			send(b, "y")
			if recv(a, 1) ~= "y" then error("lost a byte") end
		end`)
}

// unixPair sets globals a and b to the two ends of an AF_UNIX stream.
const unixPair = `
		local l = socket("unix", "stream")
		local path = "@sockshell-bench-" .. tostring(now())
		bind(l, path); listen(l)
		a = socket("unix", "stream")
		connect(a, path)
		b = accept(l)`

// BenchmarkSendRecvFastPath measures a send and the recv of what it sent,
// over AF_UNIX: data is always there, so each call is one syscall.
func BenchmarkSendRecvFastPath(b *testing.B) {
	benchLoop(b, unixPair, `
		local n = ...
		local send, recv, a, b = send, recv, a, b
		for _ = 1, n do
			send(a, "x")
			if recv(b, 1) ~= "x" then error("lost a byte") end
		end`)
}

// BenchmarkTaskWait measures a round trip through the scheduler: a task
// echoes what the main task sends, so every recv waits (a yield, epoll, a
// resume) on both sides.
func BenchmarkTaskWait(b *testing.B) {
	benchLoop(b, unixPair, `
		local n = ...
		local send, recv, a, b = send, recv, a, b
		local echo = spawn(function()
			for _ = 1, n do send(b, recv(b, 1)) end
			return true
		end)
		for _ = 1, n do
			send(a, "x")
			if recv(a, 1) ~= "x" then error("lost a byte") end
		end
		assert(wait(echo))`)
}

// BenchmarkNew measures making and closing a runtime: most of what a
// trivial script's start-up does besides the Go runtime's own.
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		rt, err := New(Config{})
		if err != nil {
			b.Fatal(err)
		}
		rt.Close()
	}
}

// benchLoop runs setup once, then loop with b.N as its argument, timed,
// in a runtime made as for a script of its own (no ladder in its text).
func benchLoop(b *testing.B, setup, loop string) {
	rt, err := New(Config{DefaultTimeout: 10 * time.Second, LadderOnDemand: true}) // as a script runs
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	run := func(src string, args ...lua.LValue) {
		fn, err := rt.ls.LoadString(src)
		if err != nil {
			b.Fatal(err)
		}
		t := rt.Spawn("bench", fn, args...)
		rt.RunUntil(t.Done)
		if t.Err() != "" {
			b.Fatal(t.Err())
		}
	}
	run(setup)
	b.ReportAllocs()
	b.ResetTimer()
	run(loop, lua.LNumber(b.N))
}
