-- proxy and mock: part of the prelude (see proxy.go), so that their
-- waiting calls yield like any others.

local FOREVER = 1e8 -- a proxy or a mock waits for its peers as long as they take

local function domain(addr)
  if addr:match("^/") or addr:match("^unix:") or addr:match("^@") or addr:match("^%.") then return "unix" end
  if addr:match("^%[") then return "inet6" end
  return "inet"
end

local function listener(addr)
  local srv, msg = socket(domain(addr), "stream")
  if not srv then return nil, msg end
  if domain(addr) ~= "unix" then setopt(srv, "reuseaddr", true) end
  local ok, msg2, code = bind(srv, addr)
  if ok then ok, msg2, code = listen(srv, 128) end
  if not ok then close(srv) return nil, msg2, code end
  return srv
end

-- pipe copies from one socket to the other until the end of stream, which
-- it passes on.
local function pipe(from, to)
  while true do
    local data = recv(from, 65536, FOREVER)
    if not data or data == "" then
      shutdown(to, "wr")
      return
    end
    if not send(to, data, FOREVER) then return end
  end
end

local function relay(client, upstream)
  local up = socket(domain(upstream), "stream")
  local ok, msg = connect(up, upstream)
  if not ok then
    RAW.warn("proxy: " .. tostring(msg))
    close(client)
    if up then close(up) end
    return
  end
  local back = spawn(pipe, up, client)
  pipe(client, up)
  wait(back, FOREVER)
  close(client)
  close(up)
end

-- proxy(listen, upstream [, {count = N}]) accepts clients on listen,
-- connects each to upstream and relays both ways, a task each way, until
-- count clients have come and gone (default: until stopped).
function proxy(listen_addr, upstream, opts)
  opts = opts or {}
  local srv, msg, code = listener(listen_addr)
  if not srv then return nil, msg, code end
  RAW.warn("proxy: " .. getsockname(srv) .. " -> " .. upstream)
  local n, relays = 0, {}
  while not opts.count or n < opts.count do
    local client, _, code2 = accept(srv, FOREVER)
    if client then
      n = n + 1
      relays[#relays + 1] = spawn(relay, client, upstream)
    elseif code2 ~= "ETIMEDOUT" then
      break
    end
  end
  for _, t in ipairs(relays) do wait(t, FOREVER) end
  close(srv)
  return n
end

-- mock(role, file [, {lenient = true}]) plays one side of a recording's
-- conversations against real peers: role "server" accepts a client for each
-- recorded conversation, checks what it sends and sends the recorded
-- replies; "client" connects to the recorded server for each and does the
-- same the other way. A divergence stops it with FILE:LINE: and both values
-- (lenient: it is written to stderr and the conversation goes on).
function mock(role, file, opts)
  opts = opts or {}
  local convs, msg, code = RAW.conversations(file, role)
  if not convs then return nil, msg, code end
  local failed, errors = nil, 0
  local function diverged(s, want, got)
    local text = s.line .. " expected " .. want .. ", got " .. got
    errors = errors + 1
    if opts.lenient then RAW.warn(text) return end
    failed = failed or text
    error(text, 0)
  end
  local function play(fd, conv)
    for _, s in ipairs(conv.steps) do
      if not s.incoming and s.eof then
        shutdown(fd, "wr")
      elseif not s.incoming then
        local ok, err = send(fd, s.data, FOREVER)
        if not ok then diverged(s, "to send " .. RAW.quote(s.data), err) end
      elseif s.eof then
        local got, err = recv(fd, 65536)
        if got ~= "" then diverged(s, "the end of stream", got and RAW.quote(got) or err) end
      else
        local got, err = recvn(fd, s.n)
        local want = s.match and "{match = " .. RAW.quote(s.match) .. "}" or RAW.quote(s.data)
        if not got then
          diverged(s, want, err)
        elseif s.match and not got:match(s.match) or not s.match and got ~= s.data then
          diverged(s, want, RAW.quote(got))
        end
      end
    end
    close(fd)
  end
  local srv -- a server's listening socket, closed by a divergence to stop it
  local function quietly(fd, conv)
    local ok, err = pcall(play, fd, conv)
    if not ok then
      failed = failed or tostring(err)
      close(fd)
      if srv then close(srv) srv = nil end
    end
  end
  if role == "client" then
    for _, conv in ipairs(convs) do
      local fd = socket(domain(opts.to or conv.addr), "stream")
      local ok, err = connect(fd, opts.to or conv.addr)
      if not ok then close(fd) return nil, err, "ECONNREFUSED" end
      quietly(fd, conv)
      if failed then return nil, failed, "EREPLAY" end
    end
    return #convs, errors
  end
  local addr = opts.listen or convs[1].addr
  local err, code2
  srv, err, code2 = listener(addr)
  if not srv then return nil, err, code2 end
  RAW.warn("mock server: " .. getsockname(srv) .. ", " .. #convs .. " conversation(s) to play")
  local tasks = {}
  for i, conv in ipairs(convs) do
    local fd = accept(srv, FOREVER)
    if not fd or failed then break end
    tasks[i] = spawn(quietly, fd, conv)
  end
  for _, t in ipairs(tasks) do wait(t, FOREVER) end
  if srv then close(srv) end
  if failed then return nil, failed, "EREPLAY" end
  return #convs, errors
end
