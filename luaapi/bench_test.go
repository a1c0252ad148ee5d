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
	rt, err := New(Config{DefaultTimeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	setup := `
		local l = socket("inet", "stream")
		bind(l, "127.0.0.1:0"); listen(l)
		a = socket("inet", "stream")
		connect(a, getsockname(l))
		b = accept(l)
		setopt(a, "nodelay", true); setopt(b, "nodelay", true)`
	loop := `
		local n = ...
		local send, recv, a, b = send, recv, a, b
		for _ = 1, n do
			send(a, "x"); recv(b, 1); send(b, "y"); recv(a, 1)
		end`
	runChunk(b, rt, setup)
	fn, err := rt.L.LoadString(loop)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	t := rt.Spawn("bench", fn, lnum(b.N))
	rt.RunUntil(t.Done)
	if t.Err() != "" {
		b.Fatal(t.Err())
	}
}

// BenchmarkRecvFastPath measures one recv of data already waiting in the
// kernel plus the send that put it there.
func BenchmarkSendRecvFastPath(b *testing.B) {
	rt, err := New(Config{DefaultTimeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	runChunk(b, rt, `
		local l = socket("unix", "stream")
		local path = "@sockshell-bench-" .. tostring(now())
		bind(l, path); listen(l)
		a = socket("unix", "stream")
		connect(a, path)
		b = accept(l)`)
	fn, err := rt.L.LoadString(`
		local n = ...
		local send, recv, a, b = send, recv, a, b
		for _ = 1, n do send(a, "x"); recv(b, 1) end`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	t := rt.Spawn("bench", fn, lnum(b.N))
	rt.RunUntil(t.Done)
	if t.Err() != "" {
		b.Fatal(t.Err())
	}
}

func runChunk(b *testing.B, rt *Runtime, src string) {
	b.Helper()
	fn, err := rt.L.LoadString(src)
	if err != nil {
		b.Fatal(err)
	}
	t := rt.Spawn("setup", fn)
	rt.RunUntil(t.Done)
	if t.Err() != "" {
		b.Fatal(t.Err())
	}
}

func lnum(n int) lua.LValue { return lua.LNumber(n) }
