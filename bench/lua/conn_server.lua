-- conn_server.lua: the server side of the concurrent-connections benchmark.
-- Listens on ADDR, accepts N connections and spawns one task per connection;
-- each task receives one message, echoes it, waits for the client to close,
-- and closes. When every task has finished it prints "served N ERRORS".
--
-- usage: sockshell conn_server.lua ADDR N
local addr = arg[1]
local n = tonumber(arg[2])
timeout(120)

local l = assert(socket("inet", "stream"))
assert(setopt(l, "reuseaddr", true))
assert(bind(l, addr))
assert(listen(l, 4096))

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
	local fd, err = accept(l, 30)
	if not fd then -- some client never came: report what was served
		io.stderr:write("accept: ", tostring(err), "\n")
		break
	end
	tasks[i] = spawn(serve, fd)
end
close(l)
local errors, first = 0, nil
for i = 1, #tasks do
	local ok, msg = wait(tasks[i], 120)
	if not ok and msg then
		errors = errors + 1
		first = first or msg
	end
end
if first then io.stderr:write("first error: ", tostring(first), "\n") end
print(string.format("served %d %d", served, errors))
