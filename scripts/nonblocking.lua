-- nonblocking.lua — blocking vs non-blocking calls, and poll.
-- A blocking recv waits for data; a non-blocking one returns EAGAIN ("try
-- again later") at once; poll waits for any of several fds to be ready.

local srv = assert(socket("inet", "stream"))
assert(bind(srv, "127.0.0.1:0"))
assert(listen(srv, 16))

print("-- blocking: recv waits (here with a 0.2 s timeout) --")
local cli = assert(socket("inet", "stream"))
assert(connect(cli, getsockname(srv)))
local conn = assert(accept(srv))
local t = os.clock()
local data, msg, code = recv(conn, 100, 0.2)
print(string.format("recv with nothing to read -> %s after %.2f s", tostring(code), os.clock() - t))
expect(code, "ETIMEDOUT")

print("-- non-blocking: EAGAIN at once --")
assert(nonblock(conn, true))
t = os.clock()
data, msg, code = recv(conn, 100)
print(string.format("recv with nothing to read -> %s after %.3f s", tostring(code), os.clock() - t))
expect(code, "EAGAIN")
assert(nonblock(srv, true))
local fd
fd, msg, code = accept(srv)
print("accept with nobody connecting -> " .. tostring(code))
expect(code, "EAGAIN")

print("-- poll: wait until one of the fds is ready --")
local ready = poll({ conn, srv }, 0.1)
print("poll({conn, srv}, 0.1) with nothing happening -> " .. #ready .. " ready fds")
expect(#ready, 0)
assert(send(cli, "ping"))
ready = poll({ conn, srv }, 1)
print("client sent \"ping\"; poll -> { " .. table.concat(ready, ", ") .. " }  (fd " .. conn .. " is readable)")
expect(#ready, 1)
expect(ready[1], conn)
data = assert(recv(conn, 100))
print(string.format("now recv succeeds at once -> %q", data))
expect(data, "ping")

local cli2 = assert(socket("inet", "stream"))
assert(connect(cli2, getsockname(srv)))
ready = poll({ conn, srv }, 1)
print("a second client connects; poll -> { " .. table.concat(ready, ", ") .. " }  (the listener fd " .. srv .. " is ready to accept)")
expect(ready[1], srv)
local conn2 = assert(accept(srv))

print("poll \"w\": which fds could send right now without waiting?")
ready = poll({ cli, cli2 }, 1, "w")
print("poll({cli, cli2}, 1, \"w\") -> { " .. table.concat(ready, ", ") .. " }")
expect(#ready, 2)

print("back to blocking mode: recv waits again")
assert(nonblock(conn, false))
data, msg, code = recv(conn, 100, 0.1)
expect(code, "ETIMEDOUT")
print("recv -> " .. code)

close(conn); close(conn2); close(cli); close(cli2); close(srv)
