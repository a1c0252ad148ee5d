-- sockshell session recorded 2026-11-26T10:00:00Z
-- by sockshell v0.1.0, run as: sockshell --record session.lua
-- Replay: sockshell FILE (with --realtime, at() keeps the recorded pauses).
strict(true)
local fd3 = socket("inet", "stream")
bind(fd3, "127.0.0.1:0")
listen(fd3)
local addr3 = getsockname(fd3)          -- 127.0.0.1:41234
local fd4 = socket("inet", "stream")
connect(fd4, addr3)
expect(getpeername(fd4), addr3)
local fd5 = accept(fd3)                 -- peer 127.0.0.1:51000
local fd6 = socket("inet6", "stream")
bind(fd6, "[::]:0")
listen(fd6)
local addr6 = getsockname(fd6)          -- [::]:42000
local fd7 = socket("inet6", "stream")
connect(fd7, "[::1]:" .. addr6:match("%d+$"))
expect(getpeername(fd7), "[::1]:" .. addr6:match("%d+$"))
-- end of recording: 15 calls in 0.000s
