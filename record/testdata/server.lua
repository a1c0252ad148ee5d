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
-- task 2
nonblock(fd4, true)
fails("EAGAIN", recv, fd4)              -- resource temporarily unavailable
-- main task
close(fd4)
close(fd3)
-- end of recording: 16 calls in 0.000s
