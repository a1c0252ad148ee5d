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
for _ = 1, 3 do                         -- the next 2 calls, repeated
  -- task 2
  send(fd5, "2")
  -- main task
  send(fd5, "1")
end
-- task 2
send(fd5, "2")
at(1.044)
send(fd5, "2")
for _ = 1, 3 do                         -- the next call, repeated
  fails("EAGAIN", send, fd5, "2")       -- resource temporarily unavailable
end
close(fd5)
-- end of recording: 48 calls in 1.048s
