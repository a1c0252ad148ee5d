-- concurrent_echo.lua — why servers use threads (here: tasks) per client.
--
-- Each client connects, waits for the server's "ready", "thinks" for 50 ms,
-- then sends a line and gets it echoed back. A sequential server serves one
-- client at a time, so every client waits for all the thinking before it;
-- a concurrent server starts a task per client, so they all think at once.

local N, THINK = 10, 0.05

local function client(addr, i)
  local fd = assert(socket("inet", "stream"))
  assert(connect(fd, addr))
  expect(recvline(fd), "ready")
  sleep(THINK)
  local line = "hello from client " .. i
  assert(sendline(fd, line))
  local echo = assert(recvline(fd))
  close(fd)
  return echo == line
end

local function handle(conn)
  assert(sendline(conn, "ready"))
  local line = assert(recvline(conn))
  assert(sendline(conn, line))
  close(conn)
end

local function sequential_server(srv)
  for _ = 1, N do
    local conn = assert(accept(srv))
    handle(conn)              -- the next client waits until this one is done
  end
end

local function concurrent_server(srv)
  local handlers = {}
  for i = 1, N do
    local conn = assert(accept(srv))
    handlers[i] = spawn(handle, conn)   -- serve it in its own task, accept the next
  end
  for _, h in ipairs(handlers) do wait(h) end
end

-- Start the server task and N client tasks at once; return the elapsed time.
local function run(server)
  local srv = assert(socket("inet", "stream"))
  assert(bind(srv, "127.0.0.1:0"))
  assert(listen(srv, N))
  local addr = getsockname(srv)
  local t0 = now()
  local st = spawn(server, srv)
  local clients = {}
  for i = 1, N do clients[i] = spawn(client, addr, i) end
  for i, c in ipairs(clients) do
    local ok, msg = wait(c)
    expect(ok, true, "client " .. i .. ": " .. tostring(msg))
  end
  local ok, msg, code = wait(st)
  expect(code, nil, "server: " .. tostring(msg))
  close(srv)
  return now() - t0
end

print(string.format("%d clients, each thinks %.0f ms before it answers", N, THINK * 1000))
local t_seq = run(sequential_server)
print(string.format("sequential server: %.3f s  (about N x %.0f ms: one client at a time)", t_seq, THINK * 1000))
local t_con = run(concurrent_server)
print(string.format("concurrent server: %.3f s  (about %.0f ms: all clients at once)", t_con, THINK * 1000))
print(string.format("the concurrent server was %.1f times faster", t_seq / t_con))
expect(t_seq > 0.95 * N * THINK, true, "the sequential server cannot be faster than N thinks")
expect(t_con < t_seq / 2, true, "the concurrent server should be much faster")
