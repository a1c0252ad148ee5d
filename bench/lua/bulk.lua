-- bulk.lua: the sockshell contender of the bulk benchmarks.
-- Connects to ADDR (host:port, or the path of an AF_UNIX socket) and sends
-- TOTAL bytes in CHUNK-byte sends of one preallocated string, finishing any
-- partial send before the next chunk; with "tls", over TLS (the peer's
-- certificate not verified). Prints the send loop's time as loop_s=SECONDS.
--
-- usage: sockshell bulk.lua ADDR TOTAL [CHUNK] [tls]
local addr = arg[1]
local total = tonumber(arg[2])
local chunk = tonumber(arg[3]) or 65536

local family = addr:find("^/") and "unix" or "inet"
local fd = assert(socket(family, "stream"))
assert(connect(fd, addr))
if arg[4] == "tls" then
	assert(tls(fd, {insecure = true}))
	print("cipher=" .. info(fd).tls_cipher)
end
local buf = string.rep("x", chunk)

local send = send
local left = total
local t0 = now()
while left > 0 do
	local s = buf
	if left < chunk then s = buf:sub(1, left) end
	local size = #s
	local n = assert(send(fd, s))
	while n < #s do -- partial send: the kernel took the first n bytes
		s = s:sub(n + 1)
		n = assert(send(fd, s))
	end
	left = left - size
end
local t1 = now()
assert(close(fd))
print(string.format("loop_s=%.9f", t1 - t0))
