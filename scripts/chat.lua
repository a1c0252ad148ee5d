-- chat.lua — a chat server: every line one client sends goes to all the
-- others. One task per client reads its lines and writes them to everyone
-- else's socket.
--
--   sockshell scripts/chat.lua 127.0.0.1:7001     (serves until Ctrl-C)
--   nc 127.0.0.1 7001                             (in two or more terminals)
--
-- With no argument it runs three client tasks and checks that each one
-- receives exactly the other two's lines.

local members = {}   -- fd -> peer address, everyone connected right now

-- Scripts have a 10 s default timeout; an idle chat is normal, so wait again.
local function patiently(f, ...)
  while true do
    local a, b, code = f(...)
    if a ~= nil or code ~= "ETIMEDOUT" then return a, b, code end
  end
end

local function broadcast(from, line)
  for fd in pairs(members) do
    if fd ~= from then sendline(fd, line) end
  end
end

local function handle(conn, peer, verbose)
  members[conn] = peer
  sendline(conn, "welcome, " .. peer)
  while true do
    local line = patiently(recvline, conn)
    if not line then break end              -- the client left (EOF or error)
    broadcast(conn, line)
  end
  members[conn] = nil
  close(conn)
  if verbose then print(peer .. " left") end
end

local function serve(srv, verbose)
  while true do
    local conn, peer, code = patiently(accept, srv)
    if not conn then return code end
    if verbose then print(peer .. " joined") end
    spawn(handle, conn, peer, verbose)
  end
end

local function listen_on(addr)
  local srv = assert(socket(addr:match("^%[") and "inet6" or "inet", "stream"))
  assert(setopt(srv, "reuseaddr", true))
  assert(bind(srv, addr))
  assert(listen(srv, 64))
  return srv
end

if arg and arg[1] then
  local srv = listen_on(arg[1])
  print("chat server on " .. getsockname(srv) .. "; Ctrl-C to stop")
  print("stopping: " .. tostring(serve(srv, true)))
  return
end

-- Self-check with three clients. They must all have joined before anyone
-- speaks, and nobody may leave before everyone has heard everything, so
-- the clients count on two shared counters (tasks share Lua state).
local srv = listen_on("127.0.0.1:0")
local addr = getsockname(srv)
spawn(serve, srv, false)
local names = { "alice", "bob", "carol" }
local joined, finished = 0, 0

local function wait_for(cond)
  local deadline = now() + 5
  while not cond() do
    assert(now() < deadline, "timed out waiting for the other clients")
    sleep(0.01)
  end
end

local function client(name)
  local fd = assert(socket("inet", "stream"))
  assert(connect(fd, addr))
  local welcome = assert(recvline(fd))       -- the server has registered us
  joined = joined + 1
  wait_for(function() return joined == #names end)
  assert(sendline(fd, name .. ": hi, I am " .. name))
  local heard = {}
  for _ = 1, #names - 1 do heard[#heard + 1] = assert(recvline(fd)) end
  finished = finished + 1
  wait_for(function() return finished == #names end)
  close(fd)
  table.sort(heard)
  return welcome, heard
end

local tasks = {}
for i, name in ipairs(names) do tasks[i] = spawn(client, name) end
for i, name in ipairs(names) do
  local welcome, heard, code = wait(tasks[i])
  expect(code, nil, name .. ": " .. tostring(heard))
  print(name .. " got '" .. welcome .. "', then heard:")
  for _, l in ipairs(heard) do print("    " .. l) end
  local want = {}
  for _, other in ipairs(names) do
    if other ~= name then want[#want + 1] = other .. ": hi, I am " .. other end
  end
  expect(table.concat(heard, "|"), table.concat(want, "|"))
end
print("every client heard the other two, and not itself")
close(srv)
