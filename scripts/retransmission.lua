-- retransmission.lua — how TCP makes a lossy network reliable: a segment
-- lost on the way is sent again when no acknowledgement comes for it in
-- time (the retransmission timeout, RTO, which the kernel sets from the
-- round trips it measured: at least 200 ms on Linux), and the kernel
-- counts each segment it sent again (total_retrans in info, tcp FD).
--
-- It runs on the lab's link (hosts a and b, 20 ms each way), which needs
-- root: elsewhere it says so and stops.
--   1. the link drops the next data segment from a to b (drop "a2b"): the
--      receiver waits; the sender sends "hello" again an RTO later;
--   2. 10% of the packets from a to b are lost (a fixed seed, so the same
--      packets every time): 16 KiB still arrive whole, each lost segment
--      sent again.

local built, why = lab{delay = 0.02}
if not built then
  print("(skipped: " .. why .. ")")
  return
end
assert(wire("on"))

host("b")
local srv = assert(socket("inet", "stream"))
assert(bind(srv, "198.18.0.2:0"))
assert(listen(srv))
host("a")
local c = assert(socket("inet", "stream"))
assert(connect(c, getsockname(srv)))
local s = assert(accept(srv))
-- The round trip the kernel measured, and the RTO it set from it.
print(tcp(c))

print("1. the next data segment from a to b is dropped")
assert(drop("a2b"))
packets()
assert(send(c, "hello"))
expect(recv(s, 100), "hello")
local sent = {}
for _, p in ipairs(packets()) do
  if p.data == "hello" then sent[#sent + 1] = p end
end
expect(#sent, 2, "hello went twice")
expect(sent[1].link, "dropped")
expect(sent[2].retrans, true, "the second is marked a retransmission")
local rto = (sent[2].time - sent[1].time) * 1000
print(string.format("   sent again %.0f ms later: the RTO (%.0f ms) went by without an ACK", rto, info(c).rto / 1000))
expect(rto >= 200, true, "the RTO is at least 200 ms")
expect(info(c).total_retrans, 1)

print("2. 10% loss from a to b")
assert(lab{a2b = {loss = 0.1}, seed = 3})
packets()
local data = string.rep("0123456789abcdef", 1024)
assert(send(c, data))
expect(recvn(s, #data), data, "every byte, in order")
sleep(0.1) -- the last ACKs
local lost, again = 0, 0
for _, p in ipairs(packets()) do
  if p.link == "lost" then lost = lost + 1 end
  if p.retrans then again = again + 1 end
end
local st = info(c)
print(string.format("   %d bytes arrived whole: %d segments lost, %d sent again (total_retrans %d)",
  #data, lost, again, st.total_retrans))
expect(lost > 0, true, "the link lost segments")
expect(st.total_retrans > 1, true, "the kernel counted them")
print(lab())

close(c)
close(s)
close(srv)
