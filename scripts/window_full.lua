-- window_full.lua — TCP's flow control: a reader that stops reading, a
-- sender that keeps sending.
--   1. the reader's receive buffer fills, and the window it advertises in
--      each ACK shrinks to zero: "stop, I have no room";
--   2. the sender, its data queued and nowhere to send it, sends a
--      zero-window probe now and then (the persist timer: after the RTO,
--      then twice as long each time) to learn when the window opens;
--   3. the reader reads: its kernel sends a window update (an ACK with a
--      window again) and the data flows on.
-- A small SO_RCVBUF (setopt rcvbuf, on the listener before the connection
-- is made, so that the window's scale is small too) makes the window a few
-- KiB, so that it fills at once.
--
-- With the wire on (as root) the window is there to see in each packet
-- ("win 0"), and the script checks each step; `ladder` draws it (run it as
-- sockshell -i scripts/window_full.lua, then type ladder, or ladder w.html).

local wired, why = wire("on")
if not wired then
  print("(the packets are not shown and their checks are skipped: " .. why .. "; the data still goes through)")
end

local srv = assert(socket("inet", "stream"))
assert(setopt(srv, "rcvbuf", 2048)) -- the kernel doubles it, for its own bookkeeping
assert(bind(srv, "127.0.0.1:0"))
assert(listen(srv))
local c = assert(socket("inet", "stream"))
assert(setopt(c, "sndbuf", 4096))
assert(connect(c, getsockname(srv)))
local s = assert(accept(srv))
local reader = getsockname(s)
print(string.format("reader's receive buffer %d bytes, sender's send buffer %d", getopt(s, "rcvbuf"), getopt(c, "sndbuf")))
packets()

-- More than both buffers hold: the send waits, in a task of its own.
local data = string.rep("0123456789abcdef", 1024)
local sender = spawn(function() return send(c, data) end)
print("-- the sender sends " .. #data .. " bytes; the reader does not read --")
sleep(1)

-- The packets so far: the data until the window closed, then the probes.
local ps = packets()
local zero, probes, last = nil, {}, nil
for i, p in ipairs(ps) do
  local toReader = p.dst == reader
  if toReader and p.len > 0 then last = p end
  if not toReader and p.win == 0 and not zero then zero = i end
  -- A probe is a segment with no data and an old sequence number, so that
  -- the reader must answer it with an ACK that says its window.
  if zero and toReader and p.len == 0 and i > zero then probes[#probes + 1] = p end
end
if wired then
  expect(zero ~= nil, true, "the reader's window went to zero")
  -- The windows the reader's ACKs advertised, as its buffer filled.
  local wins = {}
  for i = 1, zero do
    if ps[i].dst ~= reader then
      wins[#wins + 1] = ps[i].win
      expect(#wins == 1 or ps[i].win <= wins[#wins - 1], true, "the window only shrinks while nobody reads")
    end
  end
  print("the reader's window, ACK by ACK: " .. table.concat(wins, ", "))
  print(string.format("the window closed after %d bytes: the reader's ACK said win 0", ps[zero].ack - 1))
  expect(#probes >= 1, true, "the sender probed the zero window")
  for i, p in ipairs(probes) do
    print(string.format("zero-window probe %d at +%.3f s (seq %d, no data)", i, p.time, p.seq))
  end
  if #probes >= 2 then
    print(string.format("the persist timer backs off: %.0f ms, then %.0f ms",
      (probes[1].time - ps[zero].time) * 1000, (probes[2].time - probes[1].time) * 1000))
  end
  for _, p in ipairs(ps) do
    if p.dst ~= reader and p.time > ps[zero].time then
      expect(p.win, 0, "while nobody reads, every answer says win 0")
    end
  end
end
print(string.format("the reader holds %d bytes unread; the sender's kernel %d queued",
  info(s).recvq, info(c).sendq))

print("-- the reader reads --")
expect(recvn(s, #data), data)
expect(wait(sender), #data)
print("all " .. #data .. " bytes arrived, in order")
if wired then
  local update, more
  for _, p in ipairs(packets()) do
    if p.dst ~= reader and p.win > 0 and not update then update = p end
    if update and p.dst == reader and p.len > 0 then more = p; break end
  end
  expect(update ~= nil, true, "the reader's kernel sent a window update")
  expect(more ~= nil, true, "the data flowed on after the window update")
  print(string.format("window update: win %d at +%.3f s, and the next data at +%.3f s", update.win, update.time, more.time))
end
close(c); close(s); close(srv)
