package luaapi

import "testing"

func TestScratch(t *testing.T) {
	s := newSession(t, Config{})
	r := s.ok(pair + `
	send(c, "abcd")
	local x, m, code = recvn(a, 10, 0.2)
	local y = recv(a)
	return x, m, code, y
	`)
	t.Log(showAll(r))
	task := s.run("@x.lua", `
	local co = coroutine.create(function(x) return coroutine.yield(x) end)
	local ok, v = coroutine.resume(co, 5)
	local ok2, v2 = coroutine.resume(co, 7)
	return ok, v, ok2, v2
	`)
	t.Log(task.Err(), showAll(task.Results()))
}
