-- sockshell session recorded 2026-11-26T10:00:00Z
-- by sockshell v0.1.0, run as: sockshell --record session.lua
-- Replay: sockshell FILE (with --realtime, at() keeps the recorded pauses).
strict(true)
local fd3 = socket("inet", "dgram")
bind(fd3, "127.0.0.1:9000")
local fd4 = socket("inet", "dgram")
sendto(fd4, "ping", "127.0.0.1:9000")
local data, from3 = recvfrom(fd3, 100)  -- from 127.0.0.1:40000
expect(data, "ping")
sendto(fd3, "pong", from3)
expect(recvfrom(fd4, 100), "pong")      -- from 127.0.0.1:9000
sendto(fd4, "two", "127.0.0.1:9000")
expect(recv(fd3, 2), "tw")
sendto(fd4, "three", "127.0.0.1:9000")
expect(recvfrom(fd3), "three")          -- from 127.0.0.1:40000
local fd5 = socket("inet", "dgram")
sendto(fd5, "ping", "127.0.0.1:9000")
data, from3 = recvfrom(fd3, 100)        -- from 127.0.0.1:40001
expect(data, "ping")
sendto(fd3, "pong", from3)
expect(recvfrom(fd5, 100, 1), "pong")   -- from 127.0.0.1:9000
close(fd5)
close(fd4)
close(fd3)
-- end of recording: 19 calls in 0.000s
