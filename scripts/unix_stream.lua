-- unix_stream.lua — the same stream workflow over AF_UNIX: the address is a
-- file path instead of IP:port, and the data never touches the network stack.

local path = os.tmpname()
os.remove(path)          -- tmpname may leave a file there; bind needs the name free

local srv = assert(socket("unix", "stream"))
assert(bind(srv, path))
assert(listen(srv, 16))
print("server listens on " .. getsockname(srv) .. " (a socket file in the file system)")
print("AF_UNIX has no TCP state: tcp_state = " .. tostring(info(srv).tcp_state)
      .. ", API state " .. info(srv).state)
expect(getsockname(srv), path)
expect(info(srv).tcp_state, nil)

local cli = assert(socket("unix", "stream"))
assert(connect(cli, path))
print("client connected: " .. info(cli).state .. " (before accept, as with TCP)")

local conn, peer = assert(accept(srv))
print("accept -> fd " .. conn .. ", peer address " .. string.format("%q", tostring(peer))
      .. " (the client never bound a name)")

-- Still a stream: two sends can come out as one recv.
assert(send(cli, "ping "))
assert(send(cli, "pong"))
local got = assert(recv(conn, 1024))
print(string.format("server recv -> %q (two sends, one byte stream)", got))
expect(got, "ping pong")
assert(sendline(conn, "hello over a unix socket"))
got = assert(recvline(cli))
print(string.format("client recvline -> %q", got))
expect(got, "hello over a unix socket")

assert(close(cli))
expect(recv(conn, 1024), "")
print("client closed; server recv -> \"\" (end of stream)")
assert(close(conn))
assert(close(srv))

-- Closing the socket that bound the path removes the socket file (as Go's
-- net.UnixListener does), so the path is free for the next server, or for a
-- replay of this session. A file someone else left there still makes bind
-- fail: the kernel does not replace it.
local f = io.open(path)
print("after close, the socket file is " .. (f and "still there" or "gone"))
expect(f, nil)
local again = assert(socket("unix", "stream"))
assert(bind(again, path))
print("bind the same path again after close -> ok")
assert(close(again))
