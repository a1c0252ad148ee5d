package luaapi

import (
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/sock"
)

var framingOps = []*Spec{
	{Name: "recvn", Params: params(p("fd", KFD), p("n", KInt), opt("timeout", KSeconds), opt("limit", KInt)), Results: results(KData),
		Doc: "receive exactly N bytes (N at most LIMIT, default maxrecv)", Returns: `the bytes; nil, msg, "EOF" if the stream ends first; nil, msg, "EMSGSIZE" past the limit`,
		recorded: true, checked: true, run: runRecvN},
	{Name: "recvuntil", Params: params(p("fd", KFD), p("delim", KData), opt("timeout", KSeconds), opt("limit", KInt)), Results: results(KData),
		Doc: "receive up to and including DELIM (a string, or {match = PATTERN}: through the end of the first match of a Lua pattern), which must come within LIMIT bytes (default maxrecv)", Returns: `the bytes, DELIM included; nil, msg, "EOF" if the stream ends first; nil, msg, "EMSGSIZE" past the limit`,
		recorded: true, checked: true, run: runRecvUntil},
	{Name: "recvline", Params: params(p("fd", KFD), opt("timeout", KSeconds), opt("limit", KInt)), Results: results(KData),
		Doc: `receive a line of at most LIMIT bytes (default maxrecv); the "\n" (and a "\r" before it) is dropped`, Returns: `the line; nil, msg, "EOF" if the stream ends first; nil, msg, "EMSGSIZE" past the limit`,
		recorded: true, checked: true, run: runRecvLine},
	{Name: "sendline", Params: params(p("fd", KFD), p("data", KData), opt("timeout", KSeconds)), Results: results(KInt),
		Doc: `send DATA and "\n", all of it`, Returns: "the number of bytes sent; failing, a 4th value: the bytes that went",
		recorded: true, checked: true, run: runSendLine},
	{Name: "sendframe", Params: params(p("fd", KFD), p("data", KData), opt("header", KHeader), opt("timeout", KSeconds)), Results: results(KInt),
		Doc: "send DATA after its length (HEADER u8|u16be|u32be|u16le|u32le, default u32be)", Returns: "the number of bytes sent, header included; failing, a 4th value: the bytes that went",
		recorded: true, checked: true, run: runSendFrame},
	{Name: "recvframe", Params: params(p("fd", KFD), opt("header", KHeader), opt("timeout", KSeconds), opt("limit", KInt)), Results: results(KData),
		Doc: "receive one length-prefixed frame (HEADER as for sendframe) of at most LIMIT bytes (default maxrecv)", Returns: `the payload; nil, msg, "EOF" if the stream ends first; nil, msg, "EMSGSIZE" past the limit`,
		recorded: true, checked: true, run: runRecvFrame},
	{Name: "maxrecv", Params: params(opt("bytes", KInt)), Results: results(KNum),
		Doc: fmt.Sprintf("set the session's limit on one unit of recvn, recvuntil, recvline and recvframe (default %d); without BYTES show it", sock.DefaultMaxRecv), Returns: "the limit in bytes",
		recorded: true, run: runMaxRecv},
}

// recvUnit is the Lua side of the framing helpers: try, wait, try again.
// What is read but not yet a whole unit stays in the descriptor's buffer,
// whatever ends the call. A peer that floods gets the helper a turn at a
// time (sock.ErrMore): between turns the scheduler runs the other tasks,
// timers and signals, and the call's deadline holds.
func (rt *Runtime) recvUnit(op string, fd int, timeout time.Duration, unit func() ([]byte, error), post func([]byte) []byte) ([]lua.LValue, *waitReq) {
	try := func() ([]lua.LValue, error) {
		b, err := unit()
		for err == sock.ErrMore && rt.nonblock(fd) { // nothing to wait for: go on
			b, err = unit()
		}
		if err == sock.ErrMore {
			return nil, err
		}
		if err != nil {
			return failed(renamed(err, op))
		}
		if post != nil {
			b = post(b)
		}
		return vals(lua.LString(b)), nil
	}
	res, err := try()
	if err != unix.EAGAIN && err != sock.ErrMore {
		return res, nil
	}
	res, w := rt.waitFor(op, fd, "", unix.EPOLLIN, timeout, try)
	if w != nil {
		w.again = err == sock.ErrMore
		w.timedOut = func() []lua.LValue {
			detail := "timed out"
			if e, err := rt.table.Get(op, fd); err == nil && e.Buffered() > 0 {
				kept := rt.table.Peek(fd, 64)
				detail = fmt.Sprintf("timed out with the unit incomplete; %d bytes kept for the next receive, starting %s", e.Buffered(), Quote(string(kept)))
			}
			return w.fail(unix.ETIMEDOUT, detail)
		}
	}
	return res, w
}

func (rt *Runtime) nonblock(fd int) bool {
	e, err := rt.table.Get("", fd)
	return err == nil && e.Nonblock
}

// optLimit reads the optional LIMIT of a receive helper; 0 when absent
// (the session's maxrecv).
func optLimit(L *lua.LState, op string, n int) int {
	if L.Get(n) == lua.LNil {
		return 0
	}
	limit := checkInt(L, op, n, "a limit in bytes")
	if limit <= 0 {
		argError(L, op, n, "a limit of at least 1 byte")
	}
	return limit
}

func runRecvN(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "recvn", 1)
	n := checkInt(L, "recvn", 2, "a number of bytes")
	timeout, limit := optTimeout(L, "recvn", 3), optLimit(L, "recvn", 4)
	return rt.recvUnit("recvn", fd, timeout, func() ([]byte, error) { return rt.table.RecvN(fd, n, limit) }, nil)
}

func runRecvUntil(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	if t, ok := L.Get(2).(*lua.LTable); ok {
		if pat, ok := t.RawGetString("match").(lua.LString); ok {
			return runRecvMatch(rt, L, string(pat))
		}
	}
	fd := checkFD(L, "recvuntil", 1)
	delim := checkString(L, "recvuntil", 2, "a delimiter (a string, or {match = PATTERN})")
	timeout, limit := optTimeout(L, "recvuntil", 3), optLimit(L, "recvuntil", 4)
	return rt.recvUnit("recvuntil", fd, timeout, func() ([]byte, error) { return rt.table.RecvUntil(fd, delim, limit) }, nil)
}

func runRecvLine(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "recvline", 1)
	chomp := func(b []byte) []byte {
		b = b[:len(b)-1]
		if len(b) > 0 && b[len(b)-1] == '\r' {
			b = b[:len(b)-1]
		}
		return b
	}
	timeout, limit := optTimeout(L, "recvline", 2), optLimit(L, "recvline", 3)
	return rt.recvUnit("recvline", fd, timeout, func() ([]byte, error) { return rt.table.RecvUntil(fd, "\n", limit) }, chomp)
}

// headerAndTimeout reads the optional [HEADER] [TIMEOUT] of the frame
// helpers: a number in HEADER's place is the timeout. It returns the
// position of the argument after them.
func headerAndTimeout(L *lua.LState, op string, n int) (string, time.Duration, int) {
	if _, ok := L.Get(n).(lua.LNumber); ok {
		return "", optTimeout(L, op, n), n + 1
	}
	return optString(L, op, n, "a header kind (u8, u16be, u32be, u16le, u32le)", ""), optTimeout(L, op, n+1), n + 2
}

func runRecvFrame(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "recvframe", 1)
	header, timeout, next := headerAndTimeout(L, "recvframe", 2)
	limit := optLimit(L, "recvframe", next)
	return rt.recvUnit("recvframe", fd, timeout, func() ([]byte, error) { return rt.table.RecvFrame(fd, header, limit) }, nil)
}

func runMaxRecv(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	if L.Get(1) != lua.LNil {
		rt.table.MaxRecv = optLimit(L, "maxrecv", 1)
	}
	limit := rt.table.MaxRecv
	if limit == 0 {
		limit = sock.DefaultMaxRecv
	}
	return vals(lua.LNumber(limit)), nil
}

func runSendLine(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "sendline", 1)
	data := checkString(L, "sendline", 2, "data (a string)")
	return rt.sendAll("sendline", fd, data+"\n", optTimeout(L, "sendline", 3))
}

func runSendFrame(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "sendframe", 1)
	data := checkString(L, "sendframe", 2, "data (a string)")
	header, timeout, _ := headerAndTimeout(L, "sendframe", 3)
	b, err := sock.Frame(fd, header, data)
	if err != nil {
		return failure(err), nil
	}
	return rt.sendAll("sendframe", fd, string(b), timeout)
}

// renamed gives an engine error the name of the helper that met it
// (recvline's errors come from the engine's RecvUntil).
func renamed(err error, op string) error {
	if e, ok := err.(*sock.Error); ok && e.Op != op {
		c := *e
		c.Op = op
		return &c
	}
	return err
}
