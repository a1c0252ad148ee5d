-- unix_dgram.lua — AF_UNIX datagrams: whole messages, like UDP, between
-- local sockets. One side is bound to a file path, the other to a Linux
-- "abstract" name (@name: no file, gone when the socket closes).

local path = os.tmpname()
os.remove(path)
local abstract = "@sockshell-demo-" .. path:match("[^/]+$")

local srv = assert(socket("unix", "dgram"))
assert(bind(srv, path))
local cli = assert(socket("unix", "dgram"))
assert(bind(cli, abstract))
print("server is " .. getsockname(srv) .. ", client is " .. getsockname(cli))
expect(getsockname(cli), abstract)

print("client sends three datagrams")
assert(sendto(cli, "one", path))
assert(sendto(cli, "two two", path))
assert(sendto(cli, "three three three", path))

for _, want in ipairs({ "one", "two two", "three three three" }) do
  local msg, from = assert(recvfrom(srv, 1024))
  print(string.format("server recvfrom -> %q from %s", msg, from))
  expect(msg, want)
  expect(from, abstract)
end

print("the server replies to the address it got")
assert(sendto(srv, "thanks", abstract))
local msg = assert(recvfrom(cli, 1024))
print(string.format("client recvfrom -> %q", msg))
expect(msg, "thanks")

-- A sender that never bound a name has no address: the server sees where
-- the datagram came from as empty, and could not answer it.
local anon = assert(socket("unix", "dgram"))
assert(sendto(anon, "who am I?", path))
local m, from = assert(recvfrom(srv, 1024))
print(string.format("from an unbound socket: %q from %q — no way to reply", m, tostring(from)))
expect(m, "who am I?")

assert(close(anon))
assert(close(cli))
assert(close(srv))
os.remove(path)
