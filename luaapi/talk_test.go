package luaapi

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// TestSendFileToSlowReader: a blocking sendfile of a file larger than the
// socket buffers waits for a reader that takes it in pieces, and every
// byte arrives in order; OFFSET and COUNT pick a part; a missing file is
// ENOENT, a descriptor that is not a socket of the session EBADF.
func TestSendFileToSlowReader(t *testing.T) {
	data := make([]byte, 6<<20)
	rand.New(rand.NewSource(1)).Read(data)
	path := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSession(t, Config{})
	s.rt.ls.SetGlobal("path", lua.LString(path))
	res := s.ok(pair + `
local reader = spawn(function()
  local parts = {}
  while true do
    local b = recv(a, 65536, 5)
    if b == "" or b == nil then break end
    parts[#parts + 1] = b
    sleep(0.001)
  end
  return table.concat(parts)
end)
local n = sendfile(c, path)
local m = sendfile(c, path, 10, 5)
local k = sendfile(c, path, 6 * 1024 * 1024 - 3, 100)
shutdown(c, "wr")
local got = wait(reader, 10)
local _, _, missing = sendfile(c, path .. ".missing")
local _, _, bad = sendfile(99, path)
return n, m, k, #got, missing, bad, got
`)
	want := string(data) + string(data[10:15]) + string(data[len(data)-3:])
	if len(res) != 7 || res[6].String() != want {
		t.Fatalf("the reader did not get the file's bytes in order (%d bytes)", len(res[6].String()))
	}
	wantResults(t, res[:6], `(6291456, 5, 3, 6291464, "ENOENT", "EBADF")`)
}

// TestSendFileSandbox: --sandbox has no file access.
func TestSendFileSandbox(t *testing.T) {
	s := newSession(t, Config{Sandbox: true})
	res := s.ok(pair + `local r = {sendfile(c, "/etc/hostname")} r[2] = r[2]:gsub(" %d+ ", " N ") return unpack(r)`)
	wantResults(t, res, `(nil, "sendfile N /etc/hostname: EPERM: file access is refused in --sandbox", "EPERM", 0)`)
}

// TestRecvAll: the stream to its end, in pieces; past the limit EMSGSIZE
// with the bytes kept; on a datagram socket EOPNOTSUPP.
func TestRecvAll(t *testing.T) {
	res := runOK(t, pair+`
spawn(function() send(c, "one ") sleep(0.01) send(c, "two ") sleep(0.01) send(c, "three") close(c) end)
local all = recvall(a, 2)
local again = recvall(a)
local l2 = socket("inet", "stream") bind(l2, "127.0.0.1:0") listen(l2)
local c2 = dial(getsockname(l2)) local a2 = accept(l2)
send(c2, "0123456789") close(c2)
local _, msg, code = recvall(a2, 2, 4)
local kept = recvn(a2, 10)
local u = socket("inet", "dgram")
local _, _, dgram = recvall(u)
return all, again, code, (msg:gsub(" %d+: ", " N: ")), kept, dgram
`)
	wantResults(t, res, `("one two three", "", "EMSGSIZE", "recvall N: EMSGSIZE: the stream goes on past 4 bytes (limit: the call's LIMIT); they stay buffered for the next receive", "0123456789", "EOPNOTSUPP")`)
}

// TestRecvUntilPattern: through the end of the first match, across
// pieces; the bytes after it stay; past the limit EMSGSIZE; a bad pattern
// EINVAL.
func TestRecvUntilPattern(t *testing.T) {
	res := runOK(t, pair+`
spawn(function() send(c, "$1") sleep(0.01) send(c, "2\r") sleep(0.01) send(c, "\nhello\r\n") end)
local head = recvuntil(a, {match = "^%$%d+\r\n"}, 2)
local rest = recvn(a, 7, 2)
send(c, "no digits here")
local _, msg, code = recvuntil(a, {match = "%d"}, 2, 8)
local kept = recvn(a, 14)
local _, bad, einval = recvuntil(a, {match = "[a"})
return head, rest, code, (msg:gsub(" %d+: ", " N: ")), kept, einval, (bad:gsub(" %d+: ", " N: "))
`)
	wantResults(t, res, `("$12\r\n", "hello\r\n", "EMSGSIZE", "recvuntil N: EMSGSIZE: no match for \"%d\" in the first 8 bytes (limit: the call's LIMIT); they stay buffered for the next receive", "no digits here", "EINVAL", "recvuntil N: EINVAL: bad pattern \"[a\": unexpected EOS at 1")`)
}

// TestDialServe: the calls they are made of leave the sockets in the
// table; a failed step closes the socket again and names the one-liner.
func TestDialServe(t *testing.T) {
	res := runOK(t, `
local srv = serve("127.0.0.1:0")
local c = dial(getsockname(srv))
local a = accept(srv)
local states = {}
for _, r in ipairs(fds()) do states[#states + 1] = r.state end
local _, refused = dial("127.0.0.1:1")
local _, inuse = serve(getsockname(srv))
local _, bad = dial("nowhere")
local u = serve("udp:127.0.0.1:0")
local d = dial("udp:" .. getsockname(u))
send(d, "dgram")
local got = recvfrom(u)
local x = serve("@sockshell-talk-test")
local y = dial("@sockshell-talk-test")
return table.concat(states, ", "), refused, (inuse:gsub("%d+: E", "PORT: E")), bad, got, #fds(), info(y).domain
`)
	wantResults(t, res, `("listening, connected, connected", "dial 127.0.0.1:1: ECONNREFUSED: connection refused", "serve 127.0.0.1:PORT: EADDRINUSE: address already in use", "dial: EINVAL: bad address \"nowhere\": expected host:port, [v6addr]:port, /path, unix:rel/path or @name, with udp: in front for a datagram socket", "dgram", 7, "unix")`)
}

// TestInteractStdin: without a front-end interact sends the runtime's
// Stdin, prints what comes back (escaped), lets the other tasks run, and
// returns once the input ended and nothing more came; the peer closing
// ends it too, and the descriptor stays either way.
func TestInteractStdin(t *testing.T) {
	s := newSession(t, Config{Stdin: strings.NewReader("hello\nworld\n")})
	res := s.ok(pair + `
local ticks = 0
spawn(function() while true do sleep(0.01) ticks = ticks + 1 end end)
spawn(function()
  while true do
    local line = recvline(a, 5)
    if not line then break end
    send(a, "got " .. line .. "\027\r\n")
  end
end)
local how = interact(c)
return how, ticks > 10, info(c).state
`)
	wantResults(t, res, `("end", true, "connected")`)
	if got := s.out.String(); got != `got hello\x1b`+"\n"+`got world\x1b`+"\n" {
		t.Errorf("interact printed %q", got)
	}
}
