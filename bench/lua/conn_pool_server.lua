-- conn_pool_server.lua: the server side of the connections case across
-- worker processes (bench/README.md, "4. connections"), run by hand.
-- The parent listens on W ports from BASEPORT on 127.0.0.1 and starts W
-- workers (this script again); worker K serves PER connections from the
-- K-th listener as conn_server.lua does, then prints "served N" and its
-- peak resident memory (VmHWM).
--
-- usage: sockshell conn_pool_server.lua BASEPORT W PER
if not worker then
	local base, w = tonumber(arg[1]), tonumber(arg[2])
	local fds = {}
	for k = 1, w do
		local l = assert(socket("inet", "stream"))
		assert(setopt(l, "reuseaddr", true))
		assert(bind(l, "127.0.0.1:" .. (base + k - 1)))
		assert(listen(l, 4096))
		fds[k] = l
	end
	assert(wait(workers(w, arg[0], fds, arg[1], arg[2], arg[3]), 3600))
	return
end

local l = inherited[worker]
for k, fd in ipairs(inherited) do
	if k ~= worker then close(fd) end
end
local n = tonumber(arg[3])
timeout(3600)
local served = 0
local function serve(fd)
	local msg = assert(recv(fd, 64))
	assert(send(fd, msg) == #msg, "short send")
	recv(fd, 64) -- the client's close
	close(fd)
	served = served + 1
end
local tasks = {}
for i = 1, n do
	local fd, err = accept(l, 600)
	if not fd then
		io.stderr:write("accept: ", tostring(err), "\n")
		break
	end
	tasks[i] = spawn(serve, fd)
end
close(l)
for i = 1, #tasks do wait(tasks[i]) end
print(string.format("served %d", served))
for line in io.lines("/proc/self/status") do
	if line:match("^VmHWM") then print(line) end
end
