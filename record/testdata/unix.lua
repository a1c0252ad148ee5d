-- sockshell session recorded 2026-11-26T10:00:00Z
-- by sockshell v0.1.0, run as: sockshell --record session.lua
-- Replay: sockshell FILE (with --realtime, at() keeps the recorded pauses).
strict(true)
local fd3 = socket("unix", "stream")
bind(fd3, "/tmp/echo.sock")
listen(fd3)
local fd4 = socket("unix", "stream")
connect(fd4, "/tmp/echo.sock")
local fd5 = accept(fd3)
send(fd4, "hi")
expect(recvn(fd5, 2), "hi")
expect(getsockname(fd3), "/tmp/echo.sock")
getsockname(fd4)
expect(getpeername(fd4), "/tmp/echo.sock")
local fd6 = socket("unix", "dgram")
bind(fd6, "@echo")
local fd7 = socket("unix", "dgram")
bind(fd7, "/tmp/client.sock")
sendto(fd7, "x", "@echo")
expect(recvfrom(fd6, 10), "x")          -- from /tmp/client.sock
-- end of recording: 17 calls in 0.000s
