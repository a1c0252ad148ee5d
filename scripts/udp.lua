-- udp.lua — datagrams keep their boundaries, and need no connection.
--
-- A stream (TCP) is a pipe of bytes: two sends may arrive as one recv.
-- A datagram socket (UDP) carries whole messages: each sendto is one
-- datagram, and each recvfrom returns exactly one datagram, with the
-- sender's address. There is no listen, no accept, no connect.

local a = assert(socket("inet", "dgram"))
local b = assert(socket("inet", "dgram"))
assert(bind(a, "127.0.0.1:0"))
assert(bind(b, "127.0.0.1:0"))
local addr_a, addr_b = getsockname(a), getsockname(b)
print("socket a is " .. addr_a .. ", socket b is " .. addr_b)
print("UDP has no TCP state: info(a).tcp_state = " .. tostring(info(a).tcp_state))
expect(info(a).tcp_state, nil)

print("a sends two datagrams to b, one right after the other")
expect(sendto(a, "first message", addr_b), 13)
expect(sendto(a, "second, longer message", addr_b), 22)
-- For a datagram socket the kernel's figure (SIOCINQ) is the size of the
-- next datagram, not of all that wait: two are queued, recvq shows 13.
print("b's recvq now shows " .. info(b).recvq .. ": the size of the next datagram (two wait)")
expect(info(b).recvq, 13)

-- Even with room for 1000 bytes, each recvfrom returns one whole datagram.
local msg, from = assert(recvfrom(b, 1000))
print(string.format("b recvfrom -> %q from %s", msg, from))
expect(msg, "first message")
expect(from, addr_a)
msg, from = assert(recvfrom(b, 1000))
print(string.format("b recvfrom -> %q from %s", msg, from))
expect(msg, "second, longer message")

print("b answers a at the address recvfrom gave it")
assert(sendto(b, "got both", from))
msg = assert(recvfrom(a, 1000))
print(string.format("a recvfrom -> %q", msg))
expect(msg, "got both")

-- A datagram bigger than the buffer you give is cut short: the rest is
-- dropped, and the next recvfrom returns the NEXT datagram, not the rest.
-- The kernel still tells how long the datagram was (MSG_TRUNC): recvfrom
-- returns that length third when it cut one short.
print("a sends 'abcdefghij' then 'next'; b reads the first with room for only 4 bytes")
assert(sendto(a, "abcdefghij", addr_b))
assert(sendto(a, "next", addr_b))
local whole
msg, from, whole = assert(recvfrom(b, 4))
print(string.format("b recvfrom(4) -> %q; the datagram had %d bytes: the other %d are gone", msg, whole, whole - #msg))
expect(msg, "abcd")
expect(whole, 10)
msg = assert(recvfrom(b, 1000))
print(string.format("b recvfrom    -> %q", msg))
expect(msg, "next")

-- No connection means nobody tells you when nobody is listening.
local gone = assert(socket("inet", "dgram"))
assert(bind(gone, "127.0.0.1:0"))
local nowhere = getsockname(gone)
assert(close(gone))
local n = sendto(a, "anyone there?", nowhere)
print("sendto " .. nowhere .. " (nobody there) still returns " .. tostring(n) .. ": the datagram is simply lost")
expect(n, 13)

-- The kernel did answer: an ICMP "port unreachable" to a's address (as
-- root, wire on shows it beside the sendto). A socket that is not
-- connected never hears of it; a connected one does: the error waits on
-- the socket, and its next call fails with it.
local c = assert(socket("inet", "dgram"))
assert(connect(c, nowhere))
expect(send(c, "anyone there?"), 13)
local _, err, code = recv(c, 100, 1)
print("connected to it, the send still returns 13; the next recv: " .. tostring(err))
expect(code, "ECONNREFUSED")
assert(close(c))

assert(close(a))
assert(close(b))
