-- recv_buffer.lua — data waits in the kernel's receive buffer until someone
-- calls recv; nothing is lost. When the receive buffer AND the sender's send
-- buffer are both full, send has to wait (here: until its timeout).

local function wait_recvq(fd, n)
  local deadline = os.clock() + 1
  while info(fd).recvq < n and os.clock() < deadline do end
  return info(fd).recvq
end

-- A connected pair; the server side gets a small receive buffer and the
-- client a small send buffer so they fill up fast. rcvbuf is set on the
-- listening socket before the connection exists: accepted sockets inherit it.
local srv = assert(socket("inet", "stream"))
assert(setopt(srv, "rcvbuf", 4096))
assert(bind(srv, "127.0.0.1:0"))
assert(listen(srv, 16))
local cli = assert(socket("inet", "stream"))
assert(setopt(cli, "sndbuf", 4096))
assert(connect(cli, getsockname(srv)))
local conn = assert(accept(srv))
print("receive buffer of the server side: " .. getopt(conn, "rcvbuf")
      .. " bytes, send buffer of the client: " .. getopt(cli, "sndbuf")
      .. " (Linux doubles what you ask for, for its own bookkeeping)")

print("-- part 1: nobody calls recv, the data waits --")
for i = 1, 3 do
  assert(send(cli, string.rep(tostring(i), 500)))
  print("client sent 500 bytes; server recvq = " .. wait_recvq(conn, 500 * i))
  expect(info(conn).recvq, 500 * i)
end
local data = assert(recvn(conn, 1500))
print("server reads " .. #data .. " bytes at once; recvq = " .. info(conn).recvq)
expect(data, string.rep("1", 500) .. string.rep("2", 500) .. string.rep("3", 500))
expect(info(conn).recvq, 0)

print("-- part 2: fill both buffers until send has to wait --")
-- Each byte is part of a known pattern so the receiver can check every one.
local pattern = ""
for i = 0, 255 do pattern = pattern .. string.char(i) end
pattern = string.rep(pattern, 4) -- 1024 bytes
settimeout(cli, 0.3)
local total, code = 0, nil
while total < 10 * 1024 * 1024 do
  local n, msg, sent
  n, msg, code, sent = send(cli, pattern)
  -- A send that gave up says how many of its bytes went (part of the
  -- block, maybe): count them, and keep the pattern in step.
  n = n or sent
  total = total + n
  if n < #pattern then pattern = pattern:sub(n + 1) .. pattern:sub(1, n) end
  if code then break end
end
print("after " .. total .. " bytes, send waited 0.3 s and gave up: " .. tostring(code))
expect(code, "ETIMEDOUT")
print(string.format("  client sendq = %d bytes (not yet taken by the peer)", info(cli).sendq))
print(string.format("  server recvq = %d bytes (waiting for recv)", info(conn).recvq))
print(string.format("  together %d = everything send accepted", info(cli).sendq + info(conn).recvq))
expect(info(cli).sendq + info(conn).recvq, total)

print("the client stops sending; the server now reads everything")
assert(shutdown(cli, "wr"))
local parts = {}
while true do
  local chunk = assert(recv(conn, 65536))
  if chunk == "" then break end
  parts[#parts + 1] = chunk
end
local all = table.concat(parts)
print("server received " .. #all .. " bytes, then end of stream")
expect(#all, total)
local whole = ""
for i = 0, 255 do whole = whole .. string.char(i) end
local ok = true
for i = 1, #all, 256 do
  local piece = all:sub(i, i + 255)
  if piece ~= whole:sub(1, #piece) then ok = false break end
end
print("every byte in order: " .. tostring(ok))
expect(ok, true)

close(cli); close(conn); close(srv)
