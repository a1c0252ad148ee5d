-- sockshell session recorded 2026-11-26T10:00:00Z
-- by sockshell v0.1.0, run as: sockshell --record session.lua
-- Replay: sockshell FILE (with --realtime, at() keeps the recorded pauses).
strict(true)
timeout(5)
local fd3 = socket("inet", "stream")
setopt(fd3, "reuseaddr", true)
bind(fd3, "127.0.0.1:9000")
listen(fd3, 128)
expect(getsockname(fd3), "127.0.0.1:9000")
at(2.000)
local fd4 = accept(fd3)                 -- peer 127.0.0.1:51234
getpeername(fd4)                        -- 127.0.0.1:51234
expect(getsockname(fd4), "127.0.0.1:9000")
expect(recvn(fd4, 6), "hello\n")
expect(recvn(fd4, 50), "GET / HTTP/1.1\r\n" ..
    "Host: example.com\r\n" ..
    "Accept: */*\r\n" ..
    "\r\n")
send(fd4, "world\n")
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
  nonblock(fd4, true)
  fails("EAGAIN", recv, fd4)            -- resource temporarily unavailable
end)
task(0, function()
  after(2)
  close(fd4)
  close(fd3)
end)
run(0) finish()
-- end of recording: 16 calls in 0.000s
