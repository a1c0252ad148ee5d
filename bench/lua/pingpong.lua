-- pingpong.lua: the sockshell contender of the ping-pong benchmark.
-- Two connected TCP sockets over loopback in one script: a sends 1 byte,
-- b receives it, b sends 1 byte, a receives it; N times. TCP_NODELAY on both.
-- Prints the loop's time as loop_s=SECONDS.
--
-- usage: sockshell pingpong.lua [N]
local n = tonumber(arg[1]) or 100000

local l = assert(socket("inet", "stream"))
assert(bind(l, "127.0.0.1:0"))
assert(listen(l, 128))
local a = assert(socket("inet", "stream"))
assert(connect(a, assert(getsockname(l))))
local b = assert(accept(l))
assert(setopt(a, "nodelay", true))
assert(setopt(b, "nodelay", true))

local send, recv = send, recv
local t0 = now()
for _ = 1, n do
	if send(a, "x") ~= 1 then error("send a") end
	if recv(b, 1) ~= "x" then error("recv b") end
	if send(b, "y") ~= 1 then error("send b") end
	if recv(a, 1) ~= "y" then error("recv a") end
end
local t1 = now()
print(string.format("loop_s=%.9f", t1 - t0))
close(a)
close(b)
close(l)
