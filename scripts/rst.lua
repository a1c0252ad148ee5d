-- rst.lua — the three ways a TCP connection meets RST (reset) instead of
-- the FIN of an orderly close, and what each looks like to the program:
--   1. a SYN to a port where nobody listens is answered with RST:
--      connect fails with ECONNREFUSED;
--   2. close after setopt linger 0 sends RST, not FIN: the peer's recv
--      fails with ECONNRESET (an abort: no TIME_WAIT);
--   3. close with data still unread in the receive queue sends RST too:
--      the kernel tells the peer its data was lost.
--
-- With the wire on (as root) each RST is there to see, right after the
-- call that caused it.

local wired, why = wire("on")
if not wired then
  print("(the packets are not shown: " .. why .. ")")
end

-- flags is the flags of the packets seen since the last look, one word each.
local function flags()
  local fs = {}
  for _, p in ipairs(packets()) do fs[#fs + 1] = p.flags or p.proto end
  return table.concat(fs, " ")
end

local srv = assert(socket("inet", "stream"))
assert(bind(srv, "127.0.0.1:0"))
assert(listen(srv))
local addr = getsockname(srv)

print("1. connect to a port nobody listens on")
local closed = assert(socket("inet", "stream"))
assert(bind(closed, "127.0.0.1:0")) -- the port is taken, but not listening
local port = getsockname(closed)
local c = assert(socket("inet", "stream"))
packets()
local ok, msg, code = connect(c, port)
print("   connect -> " .. tostring(code) .. " (" .. tostring(msg) .. ")")
expect(code, "ECONNREFUSED")
if wired then expect(flags(), "SYN RST-ACK", "the SYN, answered with RST") end
close(c); close(closed)

print("2. close after linger 0")
c = assert(socket("inet", "stream"))
assert(connect(c, addr))
local s = assert(accept(srv))
assert(setopt(c, "linger", 0))
packets()
assert(close(c))
if wired then expect(flags(), "RST-ACK", "close sends RST instead of FIN") end
local _, emsg, ecode = recv(s, 100)
print("   the peer's recv -> " .. tostring(ecode) .. " (" .. tostring(emsg) .. ")")
expect(ecode, "ECONNRESET")
expect(info(s).tcp_state, "CLOSE")
close(s)

print("3. close with unread data")
c = assert(socket("inet", "stream"))
assert(connect(c, addr))
s = assert(accept(srv))
assert(send(c, "nobody reads this"))
print("   the server's receive queue holds " .. info(s).recvq .. " bytes; it closes without reading")
packets()
assert(close(s))
if wired then expect(flags(), {match = "^RST"}, "close with unread data sends RST") end
local _, emsg2, ecode2 = recv(c, 100)
print("   the client's recv -> " .. tostring(ecode2) .. " (" .. tostring(emsg2) .. ")")
expect(ecode2, "ECONNRESET")
close(c)
close(srv)
expect(#fds(), 0)
