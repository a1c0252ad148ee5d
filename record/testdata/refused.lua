-- sockshell session recorded 2026-11-26T10:00:00Z
-- by sockshell v0.1.0, run as: sockshell --record session.lua
-- Replay: sockshell FILE (with --realtime, at() keeps the recorded pauses).
strict(true)
fails("EINVAL", socket, "inet", "raw")  -- type: expected "stream" or "dgram"
local fd3 = socket("inet", "stream")
fails("ECONNREFUSED", connect, fd3, "127.0.0.1:1")  -- connection refused
fails("EINVAL", accept, fd3, 0.25)      -- invalid argument
close(fd3)
fails("EBADF", close, 42)               -- bad file descriptor
-- end of recording: 6 calls in 0.000s
