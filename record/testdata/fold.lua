-- sockshell session recorded 2026-11-26T10:00:00Z
-- by sockshell v0.1.0, run as: sockshell --record session.lua
-- Replay: sockshell FILE (with --realtime, at() keeps the recorded pauses).
strict(true)
local fd3 = socket("inet", "stream")
connect(fd3, "127.0.0.1:7799")
setopt(fd3, "nodelay", true)
for _ = 1, 1000 do                      -- the next 2 calls, repeated
  send(fd3, "ping")
  expect(recvn(fd3, 4), "ping")
end
close(fd3)
-- end of recording: 2004 calls in 0.000s
