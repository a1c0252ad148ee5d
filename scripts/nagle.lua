-- nagle.lua — small writes with and without TCP_NODELAY: Nagle's algorithm
-- holds a small segment back while an earlier one is unacknowledged, and
-- the receiver's delayed ACK (40 ms on Linux) holds the acknowledgement
-- back hoping to carry it with a reply. A client that writes a request in
-- two pieces (a header, then a body) and waits for the answer meets both:
-- every round trip takes ~40 ms on an idle loopback. setopt nodelay on
-- sends each piece at once.
--
-- With the wire on (as root: sockshell prints each packet) the stall is
-- there to see: the body leaves only when the header's ACK comes back.

local wired, why = wire("on")
if not wired then
  print("(the packets are not shown: " .. why .. "; the timings are)")
end

local rounds = 8

-- One connection, rounds of header + body + a 2-byte answer. It returns
-- the median round trip in ms and, with the wire on, what followed the
-- header of the last round on the wire: "ACK" (the server's, the body
-- held back until it came) or "body" (the body right away), and how many
-- ms after the header the body left.
local function run(nodelay)
  local srv = assert(socket("inet", "stream"))
  assert(bind(srv, "127.0.0.1:0"))
  assert(listen(srv))
  local c = assert(socket("inet", "stream"))
  assert(connect(c, getsockname(srv)))
  local s = assert(accept(srv))
  assert(setopt(c, "nodelay", nodelay))
  local times = {}
  for i = 1, rounds do
    if i == rounds then packets() end -- forget what came before the last round
    local t0 = now()
    assert(send(c, "HEAD:0010\n"))
    assert(send(c, "0123456789"))
    expect(recvn(s, 20), "HEAD:0010\n0123456789")
    assert(send(s, "ok"))
    expect(recvn(c, 2), "ok")
    times[i] = (now() - t0) * 1000
  end
  local after, gap
  if wired then
    local ps, head = packets(), nil
    for i, p in ipairs(ps) do
      if p.data == "HEAD:0010\n" and ps[i + 1] then
        head = p.time
        after = ps[i + 1].data == "0123456789" and "body" or ps[i + 1].flags
      elseif p.data == "0123456789" and head then
        gap = (p.time - head) * 1000
        break
      end
    end
  end
  close(c); close(s); close(srv)
  table.sort(times)
  return times[rounds / 2 + 1], after, gap
end

print("-- Nagle on (the default): write, write, read --")
local slow, slow_after, slow_gap = run(false)
print("-- nodelay on: the same --")
local fast, fast_after, fast_gap = run(true)

print(string.format("median round trip: Nagle %.1f ms, nodelay %.1f ms", slow, fast))
-- The delayed ACK is at least 40 ms (TCP_DELACK_MIN); a round trip on
-- loopback without it is well under a millisecond (more with the wire on,
-- which waits a moment after each call for its packets).
expect(slow >= 30, true, "Nagle's round trip waits for the delayed ACK")
if wired then
  print(string.format("the last round's body left %.1f ms after its header with Nagle (after the header's ACK), %.1f ms with nodelay (next: %s)",
    slow_gap, fast_gap, fast_after))
  expect(slow_after, "ACK", "with Nagle the body waits for the header's ACK")
  expect(slow_gap >= 30, true, "with Nagle the body waits for the delayed ACK")
  -- (On a busy machine the delayed ACK may beat the next call; the body
  -- still leaves as soon as it is sent.)
  expect(fast_after == "body" or fast_gap < 30, true, "with nodelay the body goes at once")
else
  expect(fast < slow / 2, true, "nodelay's round trip does not wait")
end
