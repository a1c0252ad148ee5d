-- sockshell session recorded 2026-11-26T10:00:00Z
-- by sockshell v0.1.0, run as: sockshell --record session.lua
-- Replay: sockshell FILE (with --realtime, at() keeps the recorded pauses).
strict(true)
local fd3 = socket("inet", "stream")
bind(fd3, "127.0.0.1:9000")
listen(fd3, 1)
local fd4 = socket("inet", "stream")
connect(fd4, "127.0.0.1:9000")
local fd5 = accept(fd3)                 -- peer 127.0.0.1:51000
close(fd5)
close(fd4)
fd4 = socket("inet", "dgram")
connect(fd4, "127.0.0.1:9000")
fd5 = socket("inet", "stream")
connect(fd5, "127.0.0.1:9000")
fd4 = accept(fd3)                       -- peer 127.0.0.1:51002
send(fd5, "abc")
expect(recvn(fd4, 3), "abc")
-- end of recording: 15 calls in 0.000s
