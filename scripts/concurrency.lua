-- concurrency.lua — one server, four ways: the seed's lesson on concurrent
-- servers, timed.
--
-- 200 clients each send a line and wait for the reply, which takes the
-- server 10 ms to make (it sleeps: a disk, a database, another service).
-- The server is written four ways:
--   1. one at a time: accept, serve, accept the next (a blocking server);
--   2. a task per client, in one process (an event loop);
--   3. a pool of 4 worker processes sharing one listening socket, each
--      serving one client at a time (the seed's pre-fork process pool);
--   4. 4 worker processes, each with a task per client.
-- The clients are tasks of this process. The workers are this same script,
-- started by workers(): the global worker holds their number.

local N, WAIT, POOL = 200, 0.010, 4

-- A worker: serve clients on the listening socket handed down (inherited[1])
-- until a client says "quit"; say on inherited[2] when ready.
if worker then
  local srv, ready = inherited[1], inherited[2]
  local mode, served = arg[1], 0
  local function handle(conn)
    local req = assert(recvline(conn))
    if req == "quit" then
      close(srv)                  -- this process's copy: the others still accept
      assert(sendline(conn, "bye"))
      close(conn)
      return "quit"
    end
    sleep(WAIT)
    assert(sendline(conn, "reply to " .. req))
    close(conn)
    served = served + 1
  end
  assert(send(ready, "ready " .. worker))
  close(ready)
  if mode == "sequential" then
    repeat
      local conn = assert(accept(srv, 60))
    until handle(conn) == "quit"
  else
    local handlers = {}
    while true do
      local conn = accept(srv, 60)
      if not conn then break end -- EBADF: the task that got "quit" closed srv
      handlers[#handlers + 1] = spawn(handle, conn)
    end
    for _, h in ipairs(handlers) do expect(select(3, wait(h)), nil) end
  end
  print(string.format("served %d clients", served))
  return
end

local function client(addr, i)
  local fd = assert(socket("inet", "stream"))
  assert(connect(fd, addr))
  assert(sendline(fd, "client " .. i))
  local reply = assert(recvline(fd))
  close(fd)
  return reply
end

-- The load: N clients at once; the seconds until every one has its reply.
local function load(addr)
  local t0 = now()
  local clients = {}
  for i = 1, N do clients[i] = spawn(client, addr, i) end
  for i, c in ipairs(clients) do expect(wait(c), "reply to client " .. i) end
  return now() - t0
end

local function listener()
  local srv = assert(socket("inet", "stream"))
  assert(bind(srv, "127.0.0.1:0"))
  assert(listen(srv, 512))       -- room in the queue for every client at once
  return srv, getsockname(srv)
end

-- 1 and 2: the server is a task of this process.
local function serve_one(conn)
  local req = assert(recvline(conn))
  sleep(WAIT)
  assert(sendline(conn, "reply to " .. req))
  close(conn)
end

local function in_process(server)
  local srv, addr = listener()
  local st = spawn(server, srv)
  local t = load(addr)
  assert(wait(st))
  close(srv)
  return t
end

local function one_at_a_time(srv)
  for _ = 1, N do serve_one(assert(accept(srv))) end
  return true
end

local function task_per_client(srv)
  local handlers = {}
  for i = 1, N do handlers[i] = spawn(serve_one, assert(accept(srv))) end
  for _, h in ipairs(handlers) do expect(select(3, wait(h)), nil) end
  return true
end

-- 3 and 4: the server is POOL worker processes, handed the listening
-- socket and one end of a socket pair to say they are ready on.
local function pool(mode)
  local srv, addr = listener()
  local ready, theirs = assert(socketpair("unix", "dgram"))
  local pool = assert(workers(POOL, arg[0], {srv, theirs}, mode))
  close(theirs)                 -- the workers have their copies
  for _ = 1, POOL do assert(recv(ready)) end
  local t = load(addr)
  for _ = 1, POOL do            -- one "quit" each: a worker that quit accepts no more
    local fd = assert(socket("inet", "stream"))
    assert(connect(fd, addr))
    assert(sendline(fd, "quit"))
    expect(recvline(fd), "bye")
    close(fd)
  end
  assert(wait(pool))
  close(ready)
  close(srv)
  return t
end

local function report(what, t)
  print(string.format("%-44s %6.3f s  %6.0f requests/s", what, t, N / t))
end

print(string.format("%d clients at once, each reply takes the server %.0f ms", N, WAIT * 1000))
local t_seq = in_process(one_at_a_time)
report("1. one at a time (a blocking accept loop)", t_seq)
print("   a blocking server serves one client at a time: N x 10 ms, and every")
print("   client waits for all the ones before it")
local t_tasks = in_process(task_per_client)
report("2. a task per client, one process", t_tasks)
print("   the event loop overlaps the waits: while one reply sleeps, the others")
print("   are accepted and served; one process, one core")
local t_pool = pool("sequential")
report(string.format("3. %d worker processes, each one at a time", POOL), t_pool)
print(string.format("   the pre-fork pool: %d processes share the listening socket, so %d", POOL, POOL))
print("   clients are served at once; a pool of blocking servers is as fast as")
print("   it is large")
local t_both = pool("tasks")
report(string.format("4. %d worker processes, a task per client", POOL), t_both)
print("   processes use several cores where tasks use one; each process")
print("   overlaps its own waits")

expect(t_seq >= N * WAIT, true, "one at a time cannot beat N waits")
expect(t_seq / t_tasks >= 5, true, string.format("tasks only %.1fx faster than one at a time", t_seq / t_tasks))
expect(t_seq / t_both >= 5, true, string.format("workers with tasks only %.1fx faster than one at a time", t_seq / t_both))
-- A pool of POOL blocking servers serves at most POOL clients at a time.
expect(t_pool >= N / POOL * WAIT, true, "a pool of blocking servers cannot beat N/POOL waits")
expect(t_seq / t_pool >= 2.5, true, string.format("the pool only %.1fx faster than one at a time", t_seq / t_pool))
print(string.format("speed-ups over one at a time: tasks %.0fx, pool %.1fx (at most %d), pool with tasks %.0fx",
  t_seq / t_tasks, t_seq / t_pool, POOL, t_seq / t_both))
