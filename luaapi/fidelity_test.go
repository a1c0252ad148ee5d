package luaapi

import (
	"regexp"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// TestSendQueuesAll: a blocking send of 8 MiB to a slow reader returns
// when every byte is queued, as send(2) on a blocking socket does (and as
// Python's or C's does), not after the first partial write; the fast path
// and the generic function alike.
func TestSendQueuesAll(t *testing.T) {
	for _, call := range []string{"send(c, data)", "send(c, data, 30)", "sendto(c, data, getpeername(c))"} {
		t.Run(call, func(t *testing.T) {
			res := runOK(t, pair+`
local data = string.rep("0123456789abcdef", 8 * 1024 * 1024 / 16)
local reader = spawn(function()
	local got = {}
	local n = 0
	while n < #data do
		sleep(0.001)
		local b = assert(recv(a, 16384))
		got[#got + 1] = b
		n = n + #b
	end
	return table.concat(got)
end)
local n, msg = `+call+`
local got = wait(reader, 30)
return n, msg, got == data, info(c).sent`)
			wantResults(t, res, "(8388608, nil, true, 8388608)")
		})
	}
}

// TestSendTimeoutSaysHowMuch: a send that times out, or is interrupted,
// part-way says how many bytes went — in its message and as a 4th value —
// and the peer receives exactly those.
func TestSendTimeoutSaysHowMuch(t *testing.T) {
	for _, tc := range []struct{ name, call, code string }{
		{"send", `send(c, data, 0.2)`, "ETIMEDOUT"},
		{"sendline", `sendline(c, data, 0.2)`, "ETIMEDOUT"},
		{"sendframe", `sendframe(c, data, "u32be", 0.2)`, "ETIMEDOUT"},
		{"settimeout", `settimeout(c, 0.2); return send(c, data)`, "ETIMEDOUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runOK(t, pair+`
local data = string.rep("x", 8 * 1024 * 1024)
local total = #data + ({send = 0, settimeout = 0, sendline = 1, sendframe = 4})["`+tc.name+`"]
local ok, msg, code, sent = (function() `+ret(tc.call)+` end)()
local got = 0
while got < sent do got = got + #assert(recv(a, 1048576, 1)) end
return ok, code, sent > 0 and sent < total, got == sent, msg, sent, total, info(c).sent`)
			if len(res) != 8 {
				t.Fatalf("results %s", showAll(res))
			}
			wantResults(t, res[:4], "(nil, \""+tc.code+"\", true, true)")
			op := strings.Fields(tc.call)[0]
			op = op[:strings.IndexByte(op, '(')]
			if tc.name == "settimeout" {
				op = "send"
			}
			want := regexp.MustCompile(`^` + op + ` \d+: ETIMEDOUT: timed out \(` + res[5].String() + ` of ` + res[6].String() + ` bytes sent\)$`)
			if !want.MatchString(res[4].String()) {
				t.Errorf("message %q; want %s", res[4], want)
			}
			if res[7].String() != res[5].String() {
				t.Errorf("info.sent %s, want the %s bytes that went", res[7], res[5])
			}
		})
	}
}

func ret(call string) string {
	if strings.Contains(call, "return") {
		return call
	}
	return "return " + call
}

// TestSendInterruptedSaysHowMuch: Ctrl-C (EINTR) during a send that
// already sent part of its data.
func TestSendInterruptedSaysHowMuch(t *testing.T) {
	s := newSession(t, Config{})
	fn, err := s.rt.ls.LoadString(pair + `
local data = string.rep("x", 8 * 1024 * 1024)
return send(c, data)`)
	if err != nil {
		t.Fatal(err)
	}
	task := s.rt.Spawn("main", fn)
	s.rt.RunUntil(func() bool { return strings.HasPrefix(task.State(), "waiting: send") })
	s.rt.Cancel(task, true)
	s.rt.RunUntil(task.Done)
	res := task.Results()
	if len(res) != 4 || res[0] != lua.LNil || res[2].String() != "EINTR" ||
		!regexp.MustCompile(`^send \d+: EINTR: interrupted \(\d+ of 8388608 bytes sent\)$`).MatchString(res[1].String()) ||
		!strings.Contains(res[1].String(), "("+res[3].String()+" of") || res[3].String() == "0" {
		t.Errorf("results %s; want nil, \"send N: EINTR: interrupted (SENT of 8388608 bytes sent)\", \"EINTR\", SENT", showAll(res))
	}
}

// TestNonblockingSend: on a non-blocking descriptor send makes one
// send(2) and gives its answer as it is — part of the data, then EAGAIN —
// while a helper that sends a whole unit fails with EAGAIN and says how
// much of it went.
func TestNonblockingSend(t *testing.T) {
	res := runOK(t, pair+`
local data = string.rep("x", 8 * 1024 * 1024)
nonblock(c, true)
local n = send(c, data)
local _, msg, code, sent = send(c, data)
local _, slow = send(c, data, 1)
return n > 0 and n < #data, code, msg, sent, slow`)
	wantResults(t, res[:2], `(true, "EAGAIN")`)
	if len(res) == 5 {
		wantResults(t, res[3:4], "(0)")
		for _, m := range []lua.LValue{res[2], res[4]} {
			if !regexp.MustCompile(`^send \d+: EAGAIN: would block \(descriptor is non-blocking\)$`).MatchString(m.String()) {
				t.Errorf("message %q", m)
			}
		}
	}

	res = runOK(t, pair+`
local data = string.rep("x", 8 * 1024 * 1024)
nonblock(c, true)
local ok, msg, code, sent = sendframe(c, data)
return ok, code, sent > 0 and sent < #data + 4, msg, sent`)
	wantResults(t, res[:3], `(nil, "EAGAIN", true)`)
	if len(res) == 5 && !regexp.MustCompile(`^sendframe \d+: EAGAIN: would block \(descriptor is non-blocking\) \(`+res[4].String()+` of 8388612 bytes sent\)$`).MatchString(res[3].String()) {
		t.Errorf("message %q", res[3])
	}
}

// TestNonblockingConnect: connect on a non-blocking descriptor gives the
// kernel's answers, completed as in C: EINPROGRESS, poll for writability,
// then connect again (true, then EISCONN) or getopt error. The table shows
// connected once the handshake is over, even before connect is called again.
func TestNonblockingConnect(t *testing.T) {
	res := runOK(t, `
local l = socket("inet", "stream")
assert(bind(l, "127.0.0.1:0"))
assert(listen(l))
local c = socket("inet", "stream")
nonblock(c, true)
local _, msg, code = connect(c, getsockname(l))
local ready = poll({c}, 5, "w")
local state = info(c).state
local err = getopt(c, "error")
local again = connect(c, getsockname(l))
local _, _, third = connect(c, getsockname(l))
return code, msg:match("EINPROGRESS: operation now in progress$") ~= nil, #ready, state, err, again, third`)
	wantResults(t, res, `("EINPROGRESS", true, 1, "connected", 0, true, "EISCONN")`)

	res = runOK(t, `
local b = socket("inet", "stream")
assert(bind(b, "127.0.0.1:0"))  -- bound, not listening: refuses
local c = socket("inet", "stream")
nonblock(c, true)
local _, _, code = connect(c, getsockname(b))
poll({c}, 5, "w")
local state, tcp = info(c).state, info(c).tcp_state
local n, name = getopt(c, "error")
local _, _, after = connect(c, getsockname(b))  -- the error was read: ECONNABORTED
local d = socket("inet", "stream")
nonblock(d, true)
connect(d, getsockname(b))
poll({d}, 5, "w")
local _, _, refused = connect(d, getsockname(b))
return code, state, tcp, n, name, after, refused`)
	wantResults(t, res, `("EINPROGRESS", "connecting", "CLOSE", 111, "ECONNREFUSED", "ECONNABORTED", "ECONNREFUSED")`)
}

// TestAutoboundIsBound: a UDP socket the kernel bound on its first sendto
// shows bound.
func TestAutoboundIsBound(t *testing.T) {
	res := runOK(t, `
local s = socket("inet", "dgram")
assert(bind(s, "127.0.0.1:0"))
local u = socket("inet", "dgram")
local before = info(u).state
assert(sendto(u, "hi", getsockname(s)))
return before, info(u).state, info(u)["local"] ~= "0.0.0.0:0"`)
	wantResults(t, res, `("created", "bound", true)`)
}
