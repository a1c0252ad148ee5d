package luaapi

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// fastPathScript makes every kind of send and recv call: the ones the fast
// path answers itself, the ones it hands to the generic function (bytes
// buffered, a timeout argument, bad arguments, a bad descriptor), and the
// ones where its own attempt would block (a wait, a non-blocking socket) or
// failed (a reset peer). It returns one line per call.
const fastPathScript = pair + `
local out = {}
local function log(...)
	local t = {}
	for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
	out[#out + 1] = table.concat(t, " | ")
end
log(send(c, "hello"))
log(recv(a, 3))
log(recv(a))
log(send(c, "xyz"))
log(recvn(a, 1))           -- reads all three, keeps two
log(recv(a, 1))            -- from the buffer
log(recv(a, 5))
log(recv(a, 1, 0))         -- a timeout argument; nothing there
log(pcall(recv, a, 1.5))
log(recv(a, 0))
log(recv(a, -1))
log(pcall(send, c, {}))
log(send(c, 42))           -- a number is sent as its text
log(recv(a, 2, 1))         -- waits for nothing: the bytes are there
log(send(99, "x"))
log(recv(99))
log(send(c, "x", 1))
log(recv(a, 1, 1))
log(send(c, ""))
local t = spawn(function() sleep(0.02); send(c, "w") end)
log(recv(a, 1))            -- nothing there yet: waits for the task's send
wait(t)
nonblock(a, true)
log(recv(a, 1))            -- non-blocking: EAGAIN instead of a wait
nonblock(a, false)
setopt(c, "linger", 0)
close(c)                   -- with linger 0: a reset
log(recv(a))
log(send(a, "x"))
return table.concat(out, "\n")
`

// TestFastPathMatchesGeneric runs the same calls through send and recv as
// registered (with their fast path) and through the generic functions
// alone: every result must be the same.
func TestFastPathMatchesGeneric(t *testing.T) {
	first := newSession(t, Config{})
	fast := first.ok(fastPathScript)
	first.rt.Close() // the second run gets the same descriptor numbers

	s := newSession(t, Config{})
	for _, name := range []string{"send", "recv"} {
		s.rt.ls.SetGlobal(name, s.rt.ls.NewFunction(s.rt.wrap(mustLookup(t, name))))
	}
	generic := s.ok(fastPathScript)

	if len(fast) != 1 || len(generic) != 1 {
		t.Fatalf("results %v and %v; want one string each", fast, generic)
	}
	got, want := lua.LVAsString(fast[0]), lua.LVAsString(generic[0])
	if got != want {
		t.Errorf("fast path:\n%s\n\ngeneric:\n%s", got, want)
	}
	lines := strings.Split(got, "\n")
	for i, want := range map[int]string{0: "5", 1: "hel", 2: "lo", 7: "ETIMEDOUT", 14: "EBADF | 0", 19: "w", 20: "EAGAIN", 21: "ECONNRESET", 22: "EPIPE | 0"} {
		if i >= len(lines) || !strings.HasSuffix(lines[i], want) {
			t.Errorf("result %d is not ...%q:\n%s", i+1, want, got)
		}
	}
}
