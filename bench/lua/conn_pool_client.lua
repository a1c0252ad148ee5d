-- conn_pool_client.lua: the client side of the connections case across
-- worker processes (bench/README.md, "4. connections"), run by hand.
-- The parent starts W workers (this script again); worker K makes PER
-- connections to 127.0.0.1:BASEPORT+K-1, a task each, all open at once
-- as in conn_client.lua, then does one round trip on each and prints
-- "served N" and its peak resident memory (VmHWM).
--
-- usage: sockshell conn_pool_client.lua BASEPORT W PER
if not worker then
	assert(wait(workers(tonumber(arg[2]), arg[0], {}, arg[1], arg[2], arg[3]), 3600))
	return
end

local addr = "127.0.0.1:" .. (tonumber(arg[1]) + worker - 1)
local n = tonumber(arg[3])
timeout(3600)
local settled, served = 0, 0
local gate = spawn(function()
	while settled < n do sleep(0.05) end
end)
local function client(i)
	local fd = assert(socket("inet", "stream"))
	local ok, err = connect(fd, addr)
	settled = settled + 1
	if not ok then error(err) end
	wait(gate) -- the barrier: all PER open at once
	local msg = "hello " .. i
	assert(send(fd, msg) == #msg, "short send")
	assert(recv(fd, 64) == msg, "bad echo")
	close(fd)
	served = served + 1
end
local tasks = {}
for i = 1, n do tasks[i] = spawn(client, i) end
for i = 1, n do wait(tasks[i]) end
print(string.format("served %d", served))
for line in io.lines("/proc/self/status") do
	if line:match("^VmHWM") then print(line) end
end
