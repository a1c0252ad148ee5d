-- sockshell session recorded 2026-11-26T10:00:00Z
-- by sockshell v0.1.0, run as: sockshell --record session.lua
-- Replay: sockshell FILE (with --realtime, at() keeps the recorded pauses).
strict(true)
local fd3 = socket("inet", "stream")
setopt(fd3, "nodelay", true)
expect(getopt(fd3, "nodelay"), true)
getopt(fd3, "rcvbuf")                   -- 131072
settimeout(fd3, 2.5)
connect(fd3, "127.0.0.1:9000")
local addr3 = getsockname(fd3)          -- 127.0.0.1:51234
expect(getpeername(fd3), "127.0.0.1:9000")
send(fd3, "hello\n")
at(1.234)
expect(recvn(fd3, 3), "wor")
expect(recvn(fd3, 3, 0.5), "ld\n")
at(1.800)
fails("ETIMEDOUT", recv, fd3, 100, 0.5)  -- timed out
sendline(fd3, "quit")
expect(recvline(fd3), "bye")
sendframe(fd3, "x", "u16be")
expect(recvframe(fd3, "u16be"), "y")
expect(recvuntil(fd3, "\r\n"), "ok\r\n")
expect(recvn(fd3, 2), "\0\xff")
shutdown(fd3, "wr")
expect(recv(fd3, 100), "")
close(fd3)
-- end of recording: 21 calls in 1.800s
