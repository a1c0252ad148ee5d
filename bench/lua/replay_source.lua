-- replay_source.lua: the script of the replay benchmark, recorded with
-- `sockshell --record FILE replay_source.lua ADDR PAIRS` and replayed with
-- `sockshell FILE`. Makes 2*PAIRS + 4 calls against the echo peer at ADDR:
-- socket, connect, setopt, PAIRS send/recv pairs of a 4-byte message, close.
-- Prints the loop's time as loop_s=SECONDS.
--
-- With MODE "distinct", each message is a different 8 bytes (p0000001,
-- p0000002, ...), so that nothing in the recording folds into loops.
--
-- usage: sockshell replay_source.lua ADDR PAIRS [same|distinct]
local addr = arg[1]
local pairs_ = tonumber(arg[2])
local distinct = arg[3] == "distinct"

local fd = assert(socket("inet", "stream"))
assert(connect(fd, addr))
assert(setopt(fd, "nodelay", true))
local send, recv = send, recv
local t0 = now()
if distinct then
	local format = string.format
	for i = 1, pairs_ do
		local m = format("p%07d", i)
		if send(fd, m) ~= 8 then error("send") end
		if recv(fd, 64) ~= m then error("recv") end
	end
else
	for _ = 1, pairs_ do
		if send(fd, "ping") ~= 4 then error("send") end
		if recv(fd, 64) ~= "ping" then error("recv") end
	end
end
local t1 = now()
close(fd)
print(string.format("loop_s=%.9f", t1 - t0))
