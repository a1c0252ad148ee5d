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

// BenchmarkSendRecvFastPath measures a send and the recv of what it sent,
// over AF_UNIX: data is always there, so each call is one syscall.
func BenchmarkSendRecvFastPath(b *testing.B) {
	benchLoop(b, `
		local l = socket("unix", "stream")
		local path = "@sockshell-bench-" .. tostring(now())
		bind(l, path); listen(l)
		a = socket("unix", "stream")
		connect(a, path)
		b = accept(l)`, `
		local n = ...
		local send, recv, a, b = send, recv, a, b
		for _ = 1, n do
			send(a, "x")
			if recv(b, 1) ~= "x" then error("lost a byte") end
		end`)
}

// benchLoop runs setup once, then loop with b.N as its argument, timed.
func benchLoop(b *testing.B, setup, loop string) {
	rt, err := New(Config{DefaultTimeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	run := func(src string, args ...lua.LValue) {
		fn, err := rt.L.LoadString(src)
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
