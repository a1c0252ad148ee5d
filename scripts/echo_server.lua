-- echo_server.lua — an echo server you can talk to with nc:
--
--   sockshell scripts/echo_server.lua 127.0.0.1:7000     (serves until Ctrl-C)
--   nc 127.0.0.1 7000                                    (in another terminal)
--
-- One client at a time: accept, then recv/send until the client closes,
-- then accept the next. With no argument it checks itself: it binds a free
-- port, connects its own client, and compares the echo.

-- Scripts have a 10 s default timeout; a server that waits for people just
-- tries again when a wait times out. Anything else (Ctrl-C gives EINTR) stops it.
local function patiently(f, ...)
  while true do
    local a, b, code = f(...)
    if a ~= nil or code ~= "ETIMEDOUT" then return a, b, code end
  end
end

-- Echo everything one client sends until it closes. Returns bytes echoed.
local function serve_client(conn)
  local total = 0
  while true do
    local data, msg, code = patiently(recv, conn, 65536)
    if not data then print("  recv: " .. tostring(msg)) break end
    if data == "" then break end                  -- end of stream: client is done
    local n, emsg = send(conn, data)
    if not n then print("  send: " .. tostring(emsg)) break end
    total = total + #data
  end
  close(conn)
  return total
end

local function listen_on(addr)
  local srv = assert(socket(addr:match("^%[") and "inet6" or "inet", "stream"))
  assert(setopt(srv, "reuseaddr", true))  -- restart at once, despite old TIME_WAITs
  assert(bind(srv, addr))
  assert(listen(srv, 16))
  return srv
end

if arg and arg[1] then
  local srv = listen_on(arg[1])
  print("echo server listening on " .. getsockname(srv) .. "; Ctrl-C to stop")
  while true do
    local conn, peer, code = patiently(accept, srv)
    if not conn then print("stopping: " .. tostring(code)) break end
    print("client " .. peer .. " connected")
    print("client " .. peer .. " left after " .. serve_client(conn) .. " bytes")
  end
  close(srv)
  return
end

-- Self-check. Everything the client sends fits in the kernel's buffers, so
-- one script can do both sides in turn: the client sends all and half-closes,
-- the server echoes until end of stream, then the client reads the echo.
local srv = listen_on("127.0.0.1:0")
print("self-check: echo server on " .. getsockname(srv))
local cli = assert(socket("inet", "stream"))
assert(connect(cli, getsockname(srv)))
local lines = { "hello", "echo me", string.rep("x", 3000) }
for _, l in ipairs(lines) do assert(sendline(cli, l)) end
assert(shutdown(cli, "wr"))
local conn, peer = assert(accept(srv))
local n = serve_client(conn)
print("server echoed " .. n .. " bytes to " .. peer)
for _, l in ipairs(lines) do
  local got = assert(recvline(cli))
  print(string.format("client got back %d bytes: %q", #got, #got > 20 and got:sub(1, 20) .. "..." or got))
  expect(got, l)
end
expect(recv(cli), "")
print("end of stream: the server closed its side")
close(cli)
close(srv)
