-- pingpong_luasocket.lua: the LuaSocket contender of the ping-pong benchmark,
-- run by PUC Lua 5.1 (lua5.1 + lua-socket). Same loop as the C program: two
-- connected TCP sockets over loopback in one thread, 1 byte each way per
-- round trip, TCP_NODELAY on both. Prints the loop's time as loop_s=SECONDS.
--
-- usage: lua5.1 pingpong_luasocket.lua [N]
local socket = require "socket"
local n = tonumber(arg[1]) or 100000

local l = assert(socket.tcp())
assert(l:bind("127.0.0.1", 0))
assert(l:listen(128))
local _, port = l:getsockname()

local a = assert(socket.tcp())
assert(a:connect("127.0.0.1", port))
local b = assert(l:accept())
for _, s in ipairs({a, b}) do
	assert(s:setoption("tcp-nodelay", true))
	s:settimeout(10)
end

local t0 = socket.gettime()
for _ = 1, n do
	assert(a:send("x"))
	if b:receive(1) ~= "x" then error("recv b") end
	assert(b:send("y"))
	if a:receive(1) ~= "y" then error("recv a") end
end
local t1 = socket.gettime()
print(string.format("loop_s=%.9f", t1 - t0))
a:close()
b:close()
l:close()
