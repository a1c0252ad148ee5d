package luaapi

import (
	"regexp"
	"strconv"
	"testing"
)

// The buffering rule: bytes read but not returned — on a timeout, at end
// of stream — stay buffered for the next receive call on that descriptor,
// whichever it is.

func TestRecvNTimeoutKeepsBytes(t *testing.T) {
	res := runOK(t, pair+`
send(c, "abcd")
local t0 = now()
local x, msg, code = recvn(a, 10, 0.2)
local waited = now() - t0
local buffered = info(a).buffered
local y = recv(a)
return x, code, msg:match("^recvn %d+: ETIMEDOUT") ~= nil, waited >= 0.19, buffered, y
`)
	wantResults(t, res, `(nil, "ETIMEDOUT", true, true, 4, "abcd")`)
}

// TestRecvNCompletesAcrossSends: recvn waits for the rest, which arrives
// in pieces, in a task.
func TestRecvNCompletesAcrossSends(t *testing.T) {
	res := runOK(t, pair+`
spawn(function()
  for _, piece in ipairs({"ab", "cd", "ef", "ghij", "kl"}) do send(c, piece) sleep(0.005) end
end)
local x = recvn(a, 10, 2)
local rest = recv(a, 100, 2)
local zero = recvn(a, 0)
return x, rest, zero
`)
	wantResults(t, res, `("abcdefghij", "kl", "")`)
}

func TestTimeoutThenOtherHelpers(t *testing.T) {
	res := runOK(t, pair+`
send(c, "one\r\ntwo")
local l1 = recvline(a)
local x, _, code = recvline(a, 0.05)     -- "two" stays
local y, _, code2 = recvn(a, 5, 0.05)    -- still there
send(c, "\nthree")
local l2 = recvline(a)
local z = recvuntil(a, "ee")
local w, from = recvfrom(a, 100, 0.05)
return l1, code, code2, l2, z, w
`)
	wantResults(t, res, `("one", "ETIMEDOUT", "ETIMEDOUT", "two", "three", nil)`)
}

func TestHelpersAtEOF(t *testing.T) {
	tests := []struct{ name, sent, call, kept string }{
		{"recvline", `"no newline"`, `recvline(a)`, `"no newline"`},
		{"recvuntil", `"abc;def"`, `recvuntil(a, ";;")`, `"abc;def"`},
		{"recvn", `"12345"`, `recvn(a, 6)`, `"12345"`},
		{"recvframe u32be", `"\0\0\0\10abc"`, `recvframe(a)`, `"\0\0\0\nabc"`},
		{"recvframe short header", `"\0\0"`, `recvframe(a, "u32le")`, `"\0\0"`},
		{"recvframe u8", `"\5ab"`, `recvframe(a, "u8")`, `"\x05ab"`},
		{"recvline nothing at all", `""`, `recvline(a)`, `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runOK(t, pair+`
send(c, `+tt.sent+`)
shutdown(c, "wr")
local x, msg, code = `+tt.call+`
local again, _, code2 = `+tt.call+` -- still EOF, still kept
local kept = recv(a) -- the bytes come back first
local after = recv(a)  -- then end of stream
return x, code, code2, kept, after, msg
`)
			if len(res) == 6 {
				msg := res[5].String()
				if !regexp.MustCompile(`^recv\w+ \d+: EOF: `).MatchString(msg) {
					t.Errorf("message %q; want \"OP FD: EOF: ...\"", msg)
				}
				res = res[:5]
			}
			wantResults(t, res, `(nil, "EOF", "EOF", `+tt.kept+`, "")`)
		})
	}
}

// TestEOFKeptBytesToAnotherHelper: what recvline kept at end of stream is
// what recvn reads next.
func TestEOFKeptBytesToAnotherHelper(t *testing.T) {
	res := runOK(t, pair+`
send(c, "head:tail")
shutdown(c, "wr")
local _, _, code = recvline(a)
local h = recvuntil(a, ":")
local tl = recvn(a, 4)
local _, _, code2 = recvn(a, 1)
return code, h, tl, code2, recv(a)
`)
	wantResults(t, res, `("EOF", "head:", "tail", "EOF", "")`)
}

func TestFrameHeaders(t *testing.T) {
	tests := []struct{ header, wire string }{
		{"u8", `"\x05hello"`},
		{"u16be", `"\0\x05hello"`},
		{"u16le", `"\x05\0hello"`},
		{"u32be", `"\0\0\0\x05hello"`},
		{"u32le", `"\x05\0\0\0hello"`},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			h := `"` + tt.header + `"`
			res := runOK(t, pair+`
local n = sendframe(c, "hello", `+h+`)
local wire = recvn(a, n)
local n2 = sendframe(c, "hello", `+h+`)
local back = recvframe(a, `+h+`)
sendframe(c, "", `+h+`)
local empty = recvframe(a, `+h+`)
-- two frames and a half sent at once: sticky packets, taken apart
local f1 = sendframe(c, "one", `+h+`)
sendframe(c, "two", `+h+`)
send(c, wire:sub(1, 3))
local r1, r2 = recvframe(a, `+h+`), recvframe(a, `+h+`)
local x, _, code = recvframe(a, `+h+`, 0.02)
send(c, wire:sub(4))
local r3 = recvframe(a, `+h+`)
return n, wire, back, empty, r1, r2, code, r3
`)
			wantResults(t, res, `(`+strconv.Itoa(5+headerLen(tt.header))+`, `+tt.wire+`, "hello", "", "one", "two", "ETIMEDOUT", "hello")`)
		})
	}
}

func headerLen(h string) int {
	switch h {
	case "u8":
		return 1
	case "u16be", "u16le":
		return 2
	}
	return 4
}

func TestFrameDefaultsAndLimits(t *testing.T) {
	res := runOK(t, pair+`
local n = sendframe(c, "abc")              -- u32be by default
local wire = recvn(a, n)
sendframe(c, "xyz", 1)                     -- a number in HEADER's place is the timeout
local back = recvframe(a, 1)
local _, _, big = sendframe(c, ("x"):rep(256), "u8")
local _, _, badh = sendframe(c, "x", "u24")
local _, _, badr = recvframe(a, "i32")
send(c, "\255\255\255\255")                 -- announces 4 GiB
local _, msg, huge = recvframe(a)
return wire, back, big, badh, badr, huge
`)
	wantResults(t, res, `("\0\0\0\x03abc", "xyz", "EINVAL", "EINVAL", "EINVAL", "EMSGSIZE")`)
}

func TestRecvlineStripsCRLF(t *testing.T) {
	res := runOK(t, pair+`
send(c, "a\r\nb\n\r\n\nx\r\r\ny\rz\n")
local out = {}
for i = 1, 6 do out[i] = recvline(a) end
return unpack(out)
`)
	wantResults(t, res, `("a", "b", "", "", "x\r", "y\rz")`)
}

func TestRecvuntilDelimiterAcrossPieces(t *testing.T) {
	res := runOK(t, pair+`
spawn(function() send(c, "HTTP/1.0 200 OK\r\nA: b\r") sleep(0.01) send(c, "\n\r") sleep(0.01) send(c, "\nbody") end)
local head = recvuntil(a, "\r\n\r\n", 2)
local _, _, empty = recvuntil(a, "")
return head, recv(a, 100, 2), empty
`)
	wantResults(t, res, `("HTTP/1.0 200 OK\r\nA: b\r\n\r\n", "body", "EINVAL")`)
}

func TestSendlineAndSendAll(t *testing.T) {
	res := runOK(t, pair+`
local n = sendline(c, "hello")
local l = recvline(a)
-- more than the socket buffers hold: sendline waits until the reader drains
-- (shrinking the buffers of a connected socket stalls loopback TCP, so
-- the data is made large instead)
local big = ("0123456789"):rep(800000)
local reader = spawn(function() return recvn(a, #big + 1, 5, #big + 1) end) -- past maxrecv: LIMIT
local sent = sendline(c, big, 5)
local got = wait(reader)
return n, l, sent, got == big .. "\n"
`)
	wantResults(t, res, `(6, "hello", 8000001, true)`)
}

// TestHelperErrorsNameTheHelper: a failing helper's message names the
// helper the script called, not the primitive it is built on.
func TestHelperErrorsNameTheHelper(t *testing.T) {
	res := runOK(t, pair+`
send(c, "partial")
shutdown(c, "wr")
local _, m1 = recvline(a)
local _, m2 = recvline(a, 0.01)
close(a)
sleep(0.01)
local _, m3 = sendline(c, "x")
local _, m4 = sendframe(c, "x")
local _, m5 = recvline(999)
return m1, m2, m3, m4, m5
`)
	for i, want := range []string{`^recvline \d+: EOF: `, `^recvline \d+: EOF: `, `^sendline \d+: E`, `^sendframe \d+: E`, `^recvline 999: EBADF`} {
		if i >= len(res) || !regexp.MustCompile(want).MatchString(res[i].String()) {
			t.Errorf("message %d: %s; want it to match %s", i+1, showAll(res[i:i+1]), want)
		}
	}
}
