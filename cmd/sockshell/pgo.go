package main

// default.pgo, beside this file, is a CPU profile of sockshell's hot paths,
// taken from the luaapi benchmarks (a send/recv ping-pong, a round trip
// that waits in the scheduler, making a runtime). go build, go install and
// go run use it for profile-guided optimisation: the interpreter loop then
// has gopher-lua's call of a Go function and its call-frame stack's methods
// inlined, and send and recv read their arguments without a call, which
// made a 1-byte ping-pong 1-2% faster (go run ./bench -only pingpong).
// A stale profile is still safe to use; regenerate it with
// go generate ./cmd/sockshell after the hot paths change (remade on
// 2026-12-02 after the ladder's logging joined the fast path: ping-pong
// 3-8% faster than with the old profile, median of 8 alternated runs of
// bench/lua/pingpong.lua in two rounds).

//go:generate go test -run ^$ -bench PingPong|FastPath|TaskWait|New -benchtime 2s -cpuprofile default.pgo -o luaapi.test ../../luaapi
//go:generate rm luaapi.test
