-- fd_passing.lua — hand a connection to another process.
--
-- The parent accepts a TCP connection, talks to the client, then sends the
-- connected socket to a worker process over an AF_UNIX socket pair
-- (sendfd: SCM_RIGHTS) and closes its own copy. The worker receives it
-- (recvfd) as a new descriptor of the same socket — connected, ESTABLISHED,
-- the same addresses — and carries on the conversation. The client never
-- notices: one TCP connection, served by two processes in turn. This is how
-- a master process hands accepted connections to its workers.

local function row(fd)
  local r = assert(info(fd))
  local function name(a) return a ~= "" and a or "(unnamed)" end
  return string.format("fd %d: %s %s %s %s %s -> %s", r.fd, r.domain, r.type, r.state,
    r.tcp_state or "-", name(r["local"]), name(r.remote))
end

if worker then
  local chan = inherited[1]      -- the worker's end of the socket pair
  local conn, note = assert(recvfd(chan))
  print("received " .. row(conn) .. " with " .. string.format("%q", note))
  local line = assert(recvline(conn))
  print("the client says: " .. line)
  assert(sendline(conn, "worker " .. worker .. " here, I have your connection now"))
  expect(recvline(conn), "bye")
  close(conn)
  close(chan)
  return
end

local srv = assert(socket("inet", "stream"))
assert(bind(srv, "127.0.0.1:0"))
assert(listen(srv))
local addr = getsockname(srv)

local mine, theirs = assert(socketpair("unix", "stream"))
print("socket pair: " .. row(mine) .. ", " .. row(theirs))
local pool = assert(workers(1, arg[0], {theirs}))
close(theirs)                    -- the worker has its own copy

local client = spawn(function()
  local fd = assert(socket("inet", "stream"))
  assert(connect(fd, addr))
  local here = getsockname(fd)
  assert(sendline(fd, "hello"))
  expect(recvline(fd), "parent here")
  assert(sendline(fd, "who is there now?"))
  local reply = assert(recvline(fd))
  expect(getsockname(fd), here)  -- the same connection all along
  assert(sendline(fd, "bye"))
  expect(recv(fd), "")           -- the worker closed it
  close(fd)
  return reply
end)

local conn = assert(accept(srv))
print("parent accepted " .. row(conn))
expect(recvline(conn), "hello")
assert(sendline(conn, "parent here"))
assert(sendfd(mine, conn, "conn"))
close(conn)                      -- the worker's copy keeps the connection open
print("parent sent fd " .. conn .. " to the worker and closed its copy")

local reply = assert(wait(client))
print("the client heard: " .. reply)
expect(reply, "worker 1 here, I have your connection now")
assert(wait(pool))
close(mine)
close(srv)
