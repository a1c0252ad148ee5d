-- handshake_teardown.lua — what the kernel does on its own, around accept
-- and close: the three-way handshake, the four-way teardown, and RST.
--
-- With the wire on (as root, or with CAP_NET_RAW) each packet is printed
-- after the call that caused it, and the script checks them: the
-- handshake's SYN, SYN-ACK, ACK happen inside connect, before any accept.

local function tcp(fd) return info(fd).tcp_state end

local wired, why = wire("on")
if not wired then
  print("(the packets are not shown: " .. why .. ")")
end

-- seen checks the flags of the packets since the last look (when the wire
-- is on): want is the words in order, or {match = PATTERN}.
local function seen(want, what)
  if not wired then return end
  local fs = {}
  for _, p in ipairs(packets()) do fs[#fs + 1] = p.flags or p.proto end
  expect(table.concat(fs, " "), want, what)
end

-- Wait (up to a second) until fd's TCP state is want; return the state.
local function wait_state(fd, want)
  local deadline = os.clock() + 1
  while tcp(fd) ~= want and os.clock() < deadline do end
  return tcp(fd)
end

local srv = assert(socket("inet", "stream"))
assert(bind(srv, "127.0.0.1:0"))
assert(listen(srv, 16))
local addr = getsockname(srv)
print("server listening on " .. addr .. " (" .. tcp(srv) .. ")")

print("-- handshake: the kernel completes connections before accept --")
local a = assert(socket("inet", "stream"))
local b = assert(socket("inet", "stream"))
packets()
assert(connect(a, addr))
seen("SYN SYN-ACK ACK", "connect's handshake")
assert(connect(b, addr))
seen("SYN SYN-ACK ACK", "connect's handshake")
print("two clients connected, nobody called accept: a is " .. tcp(a) .. ", b is " .. tcp(b))
expect(tcp(a), "ESTABLISHED")
expect(tcp(b), "ESTABLISHED")
-- For a listening socket, recvq counts the connections waiting for accept.
print("the listener's accept queue holds " .. info(srv).recvq .. " finished connections")
expect(info(srv).recvq, 2)
-- Data can even be sent already; it waits in the not-yet-accepted socket.
assert(send(a, "early bird"))
seen("PSH-ACK ACK", "the data, acknowledged by the server's kernel")
local ca = assert(accept(srv))
local cb = assert(accept(srv))
seen("", "accept sends nothing: the kernel did the handshake")
if wired then print("accept sent no packet: the handshake was over before it") end
print("accept hands them out in order; a's data was already waiting: recvq = " .. info(ca).recvq)
expect(recv(ca, 100), "early bird")

print("-- no listener: the SYN is answered with RST --")
local closed = assert(socket("inet", "stream"))
assert(bind(closed, "127.0.0.1:0"))      -- bound but not listening: port taken, nobody home
local c = assert(socket("inet", "stream"))
local ok, msg, code = connect(c, getsockname(closed))
seen("SYN RST-ACK", "a SYN to a port with no listener is answered with RST")
print("connect to " .. getsockname(closed) .. " -> " .. tostring(code) .. " (" .. tostring(msg) .. ")")
expect(code, "ECONNREFUSED")
close(c); close(closed)

print("-- teardown with a half-close --")
assert(shutdown(a, "wr"))
seen({match = "^FIN%-ACK"}, "shutdown(wr) sends FIN")
print("a: shutdown(wr) sends FIN   -> a is " .. tcp(a) .. ", server side is " .. tcp(ca))
expect(tcp(ca), "CLOSE_WAIT")
print("the server's kernel ACKs it -> a is " .. wait_state(a, "FIN_WAIT2"))
expect(tcp(a), "FIN_WAIT2")
expect(recv(ca, 100), "")
print("server recv -> \"\": a will send no more. But a half-closed socket can still receive:")
assert(send(ca, "last words"))
local got = assert(recv(a, 100))
print(string.format("a recv -> %q", got))
expect(got, "last words")
packets()
assert(close(ca))
print("server closes (its FIN)     -> a is " .. wait_state(a, "CLOSE"))
print("  (a closed first, so it owes a TIME_WAIT; Linux keeps that in a separate")
print("   small record, shown by `ss -tan`, and the socket behind fd " .. a .. " is CLOSE)")
expect(tcp(a), "CLOSE")
seen({match = "FIN%-ACK ACK$"}, "the server's FIN and a's last ACK")
close(a)

print("-- abort: linger 0 makes close send RST instead of FIN --")
assert(setopt(b, "linger", 0))
print("b: setopt linger 0 (getopt says " .. tostring(getopt(b, "linger")) .. "), then close")
assert(close(b))
seen("RST-ACK", "linger 0: close sends RST")
local data, emsg, ecode = recv(cb, 100)
print("server recv -> " .. tostring(ecode) .. " (" .. tostring(emsg) .. ")")
expect(ecode, "ECONNRESET")
print("server side is now " .. tcp(cb) .. ": no FIN_WAIT, no TIME_WAIT, the connection is just gone")
expect(tcp(cb), "CLOSE")
close(cb)
close(srv)
