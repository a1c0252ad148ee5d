-- sockshell session recorded 2026-11-26T10:00:00Z
-- by sockshell v0.1.0, run as: sockshell --record session.lua
-- Replay: sockshell FILE (with --realtime, at() keeps the recorded pauses).
strict(true)
local fd3 = socket("inet", "stream")
bind(fd3, "127.0.0.1:9000")
listen(fd3)
local fd4 = accept(fd3)                 -- peer 127.0.0.1:51000
for _ = 1, 4 do                         -- the next 3 calls, repeated
  expect(recvn(fd4, 6), "hello\n")
  close(fd4)
  fd4 = accept(fd3)                     -- peer 127.0.0.1:51001
end
expect(recvn(fd4, 6), "hello\n")
close(fd4)
local fd5 = socket("inet", "dgram")
for _ = 1, 4 do                         -- the next call, repeated
  sendto(fd5, "x", "127.0.0.1:9001")
end
for _ = 1, 3 do                         -- the next 3 calls, repeated
  sendto(fd5, "a", "127.0.0.1:9001")
  sendto(fd5, "b", "127.0.0.1:9001")
  getopt(fd5, "rcvbuf")                 -- 212992
end
sendto(fd5, "a", "127.0.0.1:9001")
sendto(fd5, "b", "127.0.0.1:9001")
sendto(fd5, "c", "127.0.0.1:9001")
send(fd5, "1")
-- Lua limits how many locals a function may have: new variables live in tables.
local fd, addr, from, data = {}, {}, {}
-- Tasks: each task's calls are queued in order, task(N, function() ... end),
-- and run by the last line: the main task's (0) first, whose start(N) spawns
-- task N where the session spawned it. join(N) waits for task N to end,
-- after(J) for the J'th function to have run (where two tasks touch one socket).
local queue, started, done, segs, pools = {}, {}, {}, 0, {}
local function task(n, f) segs = segs + 1 local q = queue[n] or {} queue[n] = q q[#q + 1] = {segs, f} end
local function run(n) for _, s in ipairs(queue[n] or {}) do s[2]() done[s[1]] = true end end
local function after(i) local t0 = now() while not done[i] and now() - t0 < 10 do sleep(0.001) end end
local function start(n) started[n] = spawn(run, n) end
local function join(n) if started[n] then pcall(wait, started[n], 1e8) end end
local function finish() for n in pairs(started) do join(n) end end
task(0, function()
  start(2)
end)
task(2, function()
  send(fd5, "2")
end)
task(0, function()
  after(2)
  send(fd5, "1")
end)
task(2, function()
  after(3)
  send(fd5, "2")
end)
task(0, function()
  after(4)
  send(fd5, "1")
end)
task(2, function()
  after(5)
  send(fd5, "2")
end)
task(0, function()
  after(6)
  send(fd5, "1")
end)
task(2, function()
  after(7)
  send(fd5, "2")
  at(1.044)
  send(fd5, "2")
  for _ = 1, 3 do                       -- the next call, repeated
    fails("EAGAIN", send, fd5, "2")     -- resource temporarily unavailable
  end
  close(fd5)
end)
run(0) finish()
-- end of recording: 48 calls in 1.048s
