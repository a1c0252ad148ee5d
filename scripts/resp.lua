-- resp.lua — a redis-style exchange by hand: RESP, redis's protocol, with a
-- value that holds "\0" and "\r\n", which only a length-prefixed format
-- carries safely.
--
--   sockshell scripts/resp.lua                   (its own small RESP server)
--   sockshell scripts/resp.lua 127.0.0.1:6379    (a real redis-server)
--
-- A command is an array of bulk strings: "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n" —
-- "*" and the count of items, then each item as "$", its length, "\r\n",
-- its bytes, "\r\n". The length is what makes it binary-safe: the reader
-- takes that many bytes whatever they are, "\r\n" included. Replies start
-- with one byte that says what follows: "+OK\r\n" a simple string, "-ERR
-- ...\r\n" an error, ":42\r\n" an integer, "$5\r\nhello\r\n" a bulk string
-- ("$-1\r\n": none). recvuntil with a Lua pattern reads a header line
-- whatever it holds; recvn then reads exactly the bulk string's bytes.

local addr = arg[1]
local value = "bin\0ary\r\nvalue\r\n\xff"
local key = "sockshell:resp:" .. math.floor(now() * 1000)

local function command(...)
  local parts = {"*" .. select("#", ...) .. "\r\n"}
  for _, item in ipairs({...}) do
    parts[#parts + 1] = "$" .. #item .. "\r\n" .. item .. "\r\n"
  end
  return table.concat(parts)
end

-- One reply: its kind ("+", "-", ":" or "$") and its value.
local function reply(fd)
  local line = assert(recvuntil(fd, {match = "^[-+:$*][^\r\n]*\r\n"}, 5, 512))
  local kind, rest = line:sub(1, 1), line:sub(2, -3)
  if kind ~= "$" then
    return kind, rest
  end
  local n = tonumber(rest)
  if n < 0 then
    return kind, nil
  end
  local data = assert(recvn(fd, n + 2, 5))
  expect(data:sub(-2), "\r\n", "the end of a bulk string")
  return kind, data:sub(1, -3)
end

-- The script's own server: SET, GET, DEL and PING, a task per client,
-- reading commands with the same framing the client uses.
local function serve_client(fd)
  local store = {}
  while true do
    local line = recvuntil(fd, {match = "^%*%d+\r\n"}, 5, 64)
    if not line then
      break
    end
    local args = {}
    for i = 1, tonumber(line:sub(2, -3)) do
      local len = assert(recvuntil(fd, {match = "^%$%d+\r\n"}, 5, 64))
      args[i] = assert(recvn(fd, tonumber(len:sub(2, -3)) + 2, 5)):sub(1, -3)
    end
    local cmd = args[1]:upper()
    if cmd == "SET" then
      store[args[2]] = args[3]
      send(fd, "+OK\r\n")
    elseif cmd == "GET" then
      local v = store[args[2]]
      send(fd, v and "$" .. #v .. "\r\n" .. v .. "\r\n" or "$-1\r\n")
    elseif cmd == "DEL" then
      local had = store[args[2]] and 1 or 0
      store[args[2]] = nil
      send(fd, ":" .. had .. "\r\n")
    elseif cmd == "PING" then
      send(fd, "+PONG\r\n")
    else
      send(fd, "-ERR unknown command '" .. args[1] .. "'\r\n")
    end
  end
  close(fd)
end

local srv
if not addr then
  srv = assert(serve("127.0.0.1:0"))
  addr = getsockname(srv)
  spawn(function()
    local fd = assert(accept(srv, 5))
    serve_client(fd)
  end)
  print("serving RESP on " .. addr)
end

local fd = assert(dial(addr, 5))
print("connected to " .. addr .. " as fd " .. fd)

local set = command("SET", key, value)
print("SET sends " .. #set .. " bytes: " .. hexdump(set):match("^[^\n]*"))
send(fd, set)
local ok_kind, ok = reply(fd)
print("SET -> " .. ok_kind .. ok)
expect(ok, "OK")

send(fd, command("GET", key))
local kind, got = reply(fd)
print("GET -> " .. kind .. " " .. #got .. " bytes: " .. hexdump(got):gsub("\n$", ""):gsub("\n", "\n  "))
expect(got, value, "the value came back byte for byte, \\0 and \\r\\n included")

send(fd, command("DEL", key))
local _, n = reply(fd)
print("DEL -> :" .. n)
expect(n, "1")
send(fd, command("GET", key))
local _, none = reply(fd)
print("GET after DEL -> " .. tostring(none))
expect(none, nil)

close(fd)
if srv then
  close(srv)
end
print("the value went and came back whole: a length, not a delimiter, frames it")
