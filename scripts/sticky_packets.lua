-- sticky_packets.lua — "粘包": TCP is a byte stream, not a message stream.
-- Three sends can arrive as ONE recv, because the receiver's kernel just
-- appends every byte to its receive buffer. The fix is framing: put a
-- length in front of each message (or end it with a delimiter).

-- Wait (up to a second) until fd's receive queue holds n bytes.
local function wait_recvq(fd, n)
  local deadline = os.clock() + 1
  while info(fd).recvq < n and os.clock() < deadline do end
  return info(fd).recvq
end

local srv = assert(socket("inet", "stream"))
assert(bind(srv, "127.0.0.1:0"))
assert(listen(srv, 16))
local cli = assert(socket("inet", "stream"))
assert(connect(cli, getsockname(srv)))
local conn = assert(accept(srv))
-- nodelay: send each small write as its own TCP segment at once (no Nagle).
-- Even so, the segments are merged at the receiving end.
assert(setopt(cli, "nodelay", true))

print("-- the problem --")
print("client sends three messages: \"hello\", \"world\", \"!!!\"")
assert(send(cli, "hello"))
assert(send(cli, "world"))
assert(send(cli, "!!!"))
print("server's receive queue holds " .. wait_recvq(conn, 13) .. " bytes")
local got = assert(recv(conn, 1024))
print(string.format("server recv(1024) -> %q  (one recv, three messages stuck together)", got))
expect(got, "helloworld!!!")

print("-- fix 1: a length prefix --")
print("sendframe puts a 4-byte big-endian length before each message")
assert(sendframe(cli, "hello"))
assert(sendframe(cli, "world"))
assert(sendframe(cli, "!!!"))
wait_recvq(conn, 3 * 4 + 13)
-- Peek at the raw wire bytes of the first frame with recvn: header, then body.
local header = assert(recvn(conn, 4))
print("first 4 bytes on the wire, the header:")
print((hexdump(header):gsub("\n$", "")))
expect(hex(header), "00000005")
local body = assert(recvn(conn, 5))
print(string.format("then exactly 5 bytes of body: %q", body))
expect(body, "hello")
-- recvframe does both steps: read the length, then exactly that many bytes.
for _, want in ipairs({ "world", "!!!" }) do
  local msg = assert(recvframe(conn))
  print(string.format("server recvframe -> %q", msg))
  expect(msg, want)
end

print("a 1-byte header (u8) works the same, for messages up to 255 bytes")
assert(sendframe(cli, "short", "u8"))
assert(sendframe(cli, "", "u8"))
assert(sendframe(cli, "frames", "u8"))
expect(recvframe(conn, "u8"), "short")
expect(recvframe(conn, "u8"), "")
expect(recvframe(conn, "u8"), "frames")
print("   -> \"short\", \"\", \"frames\": even an empty message survives")

print("-- fix 2: a delimiter --")
print("sendline ends each message with \\n; recvline reads up to it")
assert(sendline(cli, "line one"))
assert(sendline(cli, "line two"))
wait_recvq(conn, 18)
expect(recvline(conn), "line one")
expect(recvline(conn), "line two")
print("   -> \"line one\", \"line two\"")

-- A message can also be split: the reader must keep reading until it is whole.
print("-- the other half: one message split over several sends --")
assert(send(cli, "\0\0\0\12half a"))
local msg, err, code = recvframe(conn, "u32be", 0.2)
print("recvframe with only half the frame there -> " .. tostring(code) .. " after 0.2 s")
expect(code, "ETIMEDOUT")
assert(send(cli, " frame"))
msg = assert(recvframe(conn))
print(string.format("the rest arrives; recvframe -> %q (nothing was lost)", msg))
expect(msg, "half a frame")

close(cli); close(conn); close(srv)
