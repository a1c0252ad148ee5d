-- conn_client.lua: the client side of the concurrent-connections benchmark.
-- Spawns N tasks; each connects to ADDR, then waits at a barrier until all N
-- have connected (a gate task that polls a counter, which each waits for),
-- so N connections are open at once; then each sends one message, checks
-- the echo and closes. Prints "served N ERRORS" and the time from the
-- barrier opening to the last echo.
--
-- usage: sockshell conn_client.lua ADDR N
local addr = arg[1]
local n = tonumber(arg[2])
timeout(120)

local settled, connected, served = 0, 0, 0 -- settled: connected or failed
local gate = spawn(function()
	while settled < n do sleep(0.05) end
end)
local function client(i)
	local fd, err = socket("inet", "stream")
	if fd then
		local ok
		ok, err = connect(fd, addr)
		if not ok then close(fd); fd = nil end
	end
	settled = settled + 1
	if not fd then error(err) end
	connected = connected + 1
	wait(gate, 120) -- the barrier: all N open at once
	local msg = "hello " .. i
	assert(send(fd, msg) == #msg, "short send")
	local got = assert(recv(fd, 64))
	assert(got == msg, "bad echo")
	close(fd)
	served = served + 1
	return true
end

local t0 = now()
local tasks = {}
for i = 1, n do tasks[i] = spawn(client, i) end
local errors, first = 0, nil
for i = 1, n do
	local ok, msg = wait(tasks[i], 120)
	if not ok then
		errors = errors + 1
		first = first or msg
	end
end
if first then io.stderr:write("first error: ", tostring(first), "\n") end
print(string.format("served %d %d", served, errors))
print(string.format("connected %d", connected))
print(string.format("loop_s=%.9f", now() - t0))
