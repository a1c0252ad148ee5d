-- Runs the first time a script uses one of the names it defines (see
-- Runtime.lazyPrelude). MARK is what a socket call yields to the scheduler when it
-- has to wait; OPS names the functions strict() checks; RAW holds the
-- standard functions it wraps, which are not globals until it has run.
local MARK, OPS, RAW = ...
local coroutine = RAW.coroutine

local create, resume, yield, status, running =
  coroutine.create, coroutine.resume, coroutine.yield, coroutine.status, coroutine.running
local select, type, error, unpack, tostring = select, type, error, unpack, tostring

-- A yield is always made in argument position, never as `return yield(...)`:
-- gopher-lua crashes on a tail call of the builtin yield.
local function pass(...) return ... end

-- coroutine.yield as a Lua function, so `return coroutine.yield(x)` in user
-- code is an ordinary tail call.
coroutine.yield = function(...)
  return pass(yield(...))
end

-- Resuming a coroutine forwards the scheduler's waits through it: a socket
-- call inside a user coroutine waits for its descriptor, not for the
-- coroutine's resumer.
local function forward(co, ok, first, ...)
  if ok and first == MARK then
    if status(co) == "suspended" then
      return forward(co, resume(co, yield(MARK)))
    end
    -- The coroutine ended in a tail call of a waiting operation
    -- (`return recv(fd)`): its results are the coroutine's.
    return pass(true, yield(MARK))
  end
  return ok, first, ...
end

-- A coroutine's body runs inside a Lua function of ours, so that a body
-- ending in a tail call of a waiting operation (`return recv(fd)`) never
-- tail-calls it: gopher-lua crashes on that inside a coroutine.
coroutine.create = function(f)
  if type(f) ~= "function" then return create(f) end
  return create(function(...) return pass(f(...)) end)
end

coroutine.resume = function(co, ...)
  return forward(co, resume(co, ...))
end

coroutine.wrap = function(f)
  local co = coroutine.create(f)
  local function unwrap(ok, ...)
    if not ok then error((...), 0) end
    return ...
  end
  return function(...)
    return unwrap(forward(co, resume(co, ...)))
  end
end

-- pcall and xpcall that a waiting call can yield through (the coxpcall
-- technique): the function runs in a coroutine of its own and every yield
-- is passed up and its answer passed back down.
-- A Go function raising an error names the place that called it, which
-- here is the prelude's own line: that means nothing to the user (Lua's
-- pcall(error, "x") gives "x").
local function clean(msg)
  if type(msg) == "string" then
    return (msg:gsub("^=?prelude:%d+: ", "", 1))
  end
  return msg
end

local function finish(co, handler, ok, ...)
  if not ok then
    if handler then return false, handler(clean((...))) end
    return false, clean((...)), select(2, ...)
  end
  if status(co) == "dead" then return true, ... end
  return finish(co, handler, resume(co, yield(...)))
end

local rawpcall, rawxpcall = RAW.pcall, RAW.xpcall

pcall = function(f, ...)
  if type(f) ~= "function" then return rawpcall(f, ...) end
  local co = create(function(...) return pass(f(...)) end)
  return finish(co, nil, resume(co, ...))
end

xpcall = function(f, handler, ...)
  if type(f) ~= "function" then return false, handler("attempt to call a " .. type(f) .. " value") end
  local co = create(function(...) return pass(f(...)) end)
  return finish(co, handler, resume(co, ...))
end

-- (gopher-lua counts error levels from the error function itself, so the
-- caller of a prelude function is level 3.)
--
-- strict(true) makes every failing operation raise an error at the line
-- that called it; recordings start with it. fails(code, fn, ...) calls fn
-- without that check and raises unless it failed with the errno code.
local raw = {}
local getinfo = RAW.debug and RAW.debug.getinfo

-- where names the first place outside the prelude that led to the call,
-- even when it reached the prelude through a tail call.
local function where()
  if not getinfo then return "" end
  for level = 2, 30 do
    local info = getinfo(level, "Sl")
    if not info then break end
    if info.source ~= "prelude" and info.source ~= "=prelude" and (info.currentline or 0) > 0 then
      return (info.short_src or info.source or "?") .. ":" .. info.currentline .. ": "
    end
  end
  return ""
end

local function check(name, ok, msg, code, ...)
  if ok == nil and type(code) == "string" then
    error(where() .. name .. ": expected success, got " .. msg, 0)
  end
  return ok, msg, code, ...
end

local function wrap(name, f)
  local w = function(...) return check(name, f(...)) end
  raw[w] = f
  return w
end

function strict(on)
  for _, name in ipairs(OPS) do
    local f = _G[name]
    if on and not raw[f] then
      _G[name] = wrap(name, f)
    elseif not on and raw[f] then
      _G[name] = raw[f]
    end
  end
  return true
end

function fails(code, f, ...)
  if type(f) ~= "function" then
    error(where() .. "fails: expected a function as argument 2, got " .. type(f), 0)
  end
  local r = {(raw[f] or f)(...)}
  if r[1] == nil and r[3] == code then
    return nil, r[2], r[3]
  end
  if r[1] == nil then
    error(where() .. "expected " .. code .. ", got " .. tostring(r[2]), 0)
  end
  error(where() .. "expected " .. code .. ", got success", 0)
end

-- replay(file) runs a recording in this task, so that its waiting calls
-- yield like any others. A divergence is nil, "FILE:LINE: expected ...,
-- got ...", "EREPLAY": the recording's place and both values.
local loadreplay = RAW.loadreplay
function replay(file)
  local f, msg, code = loadreplay(file)
  if not f then return nil, msg, code end
  local ok, err = pcall(f)
  if not ok then return nil, tostring(err), "EREPLAY" end
  return true
end

-- dofile in Lua, so that the file's waiting calls can yield.
local loadfile = RAW.loadfile
function dofile(file)
  local f, err = loadfile(file)
  if not f then error(err, 2) end
  return f()
end

rawset(_G, "coroutine", coroutine)
