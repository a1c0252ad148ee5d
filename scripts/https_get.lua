-- https_get.lua — an HTTPS GET by hand: a TCP connection, TLS on it, then
-- HTTP as over plain TCP:
--
--   sockshell scripts/https_get.lua example.com:443/            (the system's roots)
--   sockshell scripts/https_get.lua localhost:4433/ ca.pem      (openssl s_server -www, its CA)
--
-- tls(fd, name, {ca = ...}) runs the handshake and verifies the server's
-- certificate for NAME; from then on send and recvline carry plaintext
-- and TLS encrypts it. With no argument it starts its own HTTPS server
-- task first, with a certificate tls makes for it.

-- Read the response from fd: status line, headers, body.
local function read_response(fd)
  local status_line = assert(recvline(fd))
  local headers, lines = {}, {}
  while true do
    local line = assert(recvline(fd))
    if line == "" then break end
    lines[#lines + 1] = line
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then headers[name:lower()] = value end
  end
  local body
  if headers["content-length"] then
    body = assert(recvn(fd, tonumber(headers["content-length"])))
  else
    local parts = {}                              -- no length: until the end of the stream
    while true do
      local chunk = assert(recv(fd, 65536))
      if chunk == "" then break end
      parts[#parts + 1] = chunk
    end
    body = table.concat(parts)
  end
  return tonumber(status_line:match("^HTTP/%d%.%d (%d%d%d)")), status_line, lines, body
end

-- get fetches PATH from HOST:PORT over TLS; opts are tls's options.
local function get(hostport, path, opts)
  local host = hostport:match("^%[?(.-)%]?:%d+$")
  local fd = assert(socket(hostport:match("^%[") and "inet6" or "inet", "stream"))
  assert(connect(fd, hostport))
  assert(setopt(fd, "nodelay", true))             -- the request follows the handshake at once
  print("connected to " .. getpeername(fd))
  assert(tls(fd, host, opts))
  local i = info(fd)
  print("tls:   " .. i.tls_version .. ", " .. i.tls_cipher .. ", server " .. (i.tls_peer or "?"))
  assert(send(fd, "GET " .. path .. " HTTP/1.0\r\nHost: " .. host .. "\r\nUser-Agent: sockshell\r\n\r\n"))
  print("sent:  GET " .. path .. " HTTP/1.0")
  local code, status_line, header_lines, body = read_response(fd)
  print("got:   " .. status_line)
  for _, line in ipairs(header_lines) do print("       " .. line) end
  print("body:  " .. #body .. " bytes")
  close(fd)
  return code, body, i
end

if arg and arg[1] then
  local hostport, path = arg[1]:gsub("^https://", ""):match("^([^/]+)(/?.*)$")
  if not hostport then
    error("usage: https_get.lua HOST:PORT/PATH [CA.pem]")
  end
  if not hostport:find(":%d+$") then hostport = hostport .. ":443" end
  if path == "" then path = "/" end
  local code = get(hostport, path, { ca = arg[2], alpn = "http/1.1" })
  expect(code, 200)
  return
end

-- Self-check: a one-shot HTTPS server on a free port in this same script.
local srv = assert(socket("inet", "stream"))
assert(bind(srv, "127.0.0.1:0"))
assert(listen(srv))
local addr = getsockname(srv)
local page = "<h1>hello over TLS</h1>\n"

local server = spawn(function()
  local conn = assert(accept(srv))
  assert(tls(conn, "server", { alpn = "http/1.1" })) -- a self-signed certificate for localhost
  local head = assert(recvuntil(conn, "\r\n\r\n"))
  print("server got " .. head:match("^[^\r]*") .. " over " .. info(conn).tls_version)
  assert(send(conn, "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: " .. #page .. "\r\n\r\n" .. page))
  close(conn)
  return head
end)

-- The certificate is made afresh and signed by nobody: the client does
-- not verify it (insecure), and checks whose it is by hand instead.
local code, body, i = get("localhost:" .. addr:match(":(%d+)$"), "/hello.html", { insecure = true, alpn = "http/1.1" })
expect(code, 200)
expect(body, page)
expect(i.tls_peer, "CN=localhost,O=sockshell")
expect(i.tls_alpn, "http/1.1")
expect(wait(server), { match = "^GET /hello.html HTTP/1.0\r\nHost: localhost\r\n" })
close(srv)
