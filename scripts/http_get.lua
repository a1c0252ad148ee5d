-- http_get.lua — an HTTP/1.1 GET by hand, on a plain TCP socket:
--
--   sockshell scripts/http_get.lua example.com:80/          (a real server)
--   sockshell scripts/http_get.lua 127.0.0.1:8080/index.html
--
-- HTTP is text over a byte stream, framed by lines ("\r\n") and by the
-- Content-Length header (or chunked encoding, or the server closing).
-- With no argument it starts its own tiny HTTP server in this script first.

-- Read the response from fd: status line, headers, body.
local function read_response(fd)
  local status_line = assert(recvline(fd))        -- recvline drops the "\r\n"
  local code = tonumber(status_line:match("^HTTP/%d%.%d (%d%d%d)"))
  local headers, lines = {}, {}
  while true do
    local line = assert(recvline(fd))
    if line == "" then break end                  -- blank line: headers done
    lines[#lines + 1] = line
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then headers[name:lower()] = value end
  end
  local body
  if headers["content-length"] then
    body = assert(recvn(fd, tonumber(headers["content-length"])))
  elseif (headers["transfer-encoding"] or ""):lower():find("chunked") then
    local parts = {}
    while true do
      local size = tonumber(assert(recvline(fd)):match("^%x+"), 16)
      if size == 0 then break end
      parts[#parts + 1] = assert(recvn(fd, size))
      assert(recvline(fd))                        -- the "\r\n" after each chunk
    end
    while assert(recvline(fd)) ~= "" do end       -- trailers, up to a blank line
    body = table.concat(parts)
  else
    local parts = {}                              -- no length: read until EOF
    while true do
      local chunk = assert(recv(fd, 65536))
      if chunk == "" then break end
      parts[#parts + 1] = chunk
    end
    body = table.concat(parts)
  end
  return code, status_line, lines, body
end

local function request(hostport, path)
  local host, port = hostport:match("^(.*):(%d+)$")
  local hosthdr = port == "80" and host or hostport
  return "GET " .. path .. " HTTP/1.1\r\n" ..
         "Host: " .. hosthdr .. "\r\n" ..
         "User-Agent: sockshell\r\n" ..
         "Connection: close\r\n" ..
         "\r\n"
end

local function get(hostport, path, before_reading)
  local fd = assert(socket(hostport:match("^%[") and "inet6" or "inet", "stream"))
  assert(connect(fd, hostport))
  print("connected to " .. getpeername(fd))
  local req = request(hostport, path)
  assert(send(fd, req))
  print("sent:  " .. req:match("^[^\r]*") .. "  (+ Host, Connection: close)")
  if before_reading then before_reading() end
  local code, status_line, header_lines, body = read_response(fd)
  print("got:   " .. status_line)
  for _, line in ipairs(header_lines) do print("       " .. line) end
  print("body:  " .. #body .. " bytes")
  close(fd)
  return code, body
end

if arg and arg[1] then
  local hostport, path = arg[1]:gsub("^http://", ""):match("^([^/]+)(/?.*)$")
  if not hostport then
    error("usage: http_get.lua HOST:PORT/PATH, e.g. 127.0.0.1:8080/index.html")
  end
  if not hostport:find(":%d+$") then hostport = hostport .. ":80" end
  if path == "" then path = "/" end
  local code = get(hostport, path)
  expect(code, 200)
  return
end

-- Self-check: a one-shot HTTP server on a free port in this same script.
-- The request fits in the kernel's buffers, so the server can answer it
-- after the client has sent it and before the client reads.
local srv = assert(socket("inet", "stream"))
assert(bind(srv, "127.0.0.1:0"))
assert(listen(srv, 16))
local addr = getsockname(srv)
local page = "<h1>hello from sockshell</h1>\n"

local function serve_one()
  local conn = assert(accept(srv))
  local head = assert(recvuntil(conn, "\r\n\r\n"))
  local method, path = head:match("^(%u+) (%S+) HTTP/1%.1\r\n")
  print("server got " .. method .. " " .. path .. ", Host: " .. head:match("\r\nHost: ([^\r]*)"))
  expect(method, "GET")
  expect(path, "/hello.html")
  expect(head, { match = "\r\nConnection: close\r\n" })
  assert(send(conn, "HTTP/1.1 200 OK\r\n" ..
                    "Content-Type: text/html\r\n" ..
                    "Content-Length: " .. #page .. "\r\n" ..
                    "Connection: close\r\n" ..
                    "\r\n" .. page))
  close(conn)
end

local code, body = get(addr, "/hello.html", serve_one)
expect(code, 200)
expect(body, page)
close(srv)
