package luaapi

import (
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/sock"
)

var framingOps = []*Spec{
	{Name: "recvn", Params: params(p("fd", KFD), p("n", KInt), opt("timeout", KSeconds)), Results: results(KData),
		Doc: "receive exactly N bytes", Returns: `the bytes; nil, msg, "EOF" if the stream ends first`,
		recorded: true, checked: true, run: runRecvN},
	{Name: "recvuntil", Params: params(p("fd", KFD), p("delim", KData), opt("timeout", KSeconds)), Results: results(KData),
		Doc: "receive up to and including DELIM", Returns: `the bytes, DELIM included; nil, msg, "EOF" if the stream ends first`,
		recorded: true, checked: true, run: runRecvUntil},
	{Name: "recvline", Params: params(p("fd", KFD), opt("timeout", KSeconds)), Results: results(KData),
		Doc: `receive a line; the "\n" (and a "\r" before it) is dropped`, Returns: `the line; nil, msg, "EOF" if the stream ends first`,
		recorded: true, checked: true, run: runRecvLine},
	{Name: "sendline", Params: params(p("fd", KFD), p("data", KData), opt("timeout", KSeconds)), Results: results(KInt),
		Doc: `send DATA and "\n", all of it`, Returns: "the number of bytes sent; failing, a 4th value: the bytes that went",
		recorded: true, checked: true, run: runSendLine},
	{Name: "sendframe", Params: params(p("fd", KFD), p("data", KData), opt("header", KHeader), opt("timeout", KSeconds)), Results: results(KInt),
		Doc: "send DATA after its length (HEADER u8|u16be|u32be|u16le|u32le, default u32be)", Returns: "the number of bytes sent, header included; failing, a 4th value: the bytes that went",
		recorded: true, checked: true, run: runSendFrame},
	{Name: "recvframe", Params: params(p("fd", KFD), opt("header", KHeader), opt("timeout", KSeconds)), Results: results(KData),
		Doc: "receive one length-prefixed frame (HEADER as for sendframe)", Returns: `the payload; nil, msg, "EOF" if the stream ends first`,
		recorded: true, checked: true, run: runRecvFrame},
}

// recvUnit is the Lua side of the framing helpers: try, wait, try again.
// What is read but not yet a whole unit stays in the descriptor's buffer,
// whatever ends the call.
func (rt *Runtime) recvUnit(op string, fd int, timeout time.Duration, unit func() ([]byte, error), post func([]byte) []byte) ([]lua.LValue, *waitReq) {
	try := func() ([]lua.LValue, error) {
		b, err := unit()
		if err != nil {
			return failed(renamed(err, op))
		}
		if post != nil {
			b = post(b)
		}
		return vals(lua.LString(b)), nil
	}
	res, w := rt.attempt(op, fd, "", unix.EPOLLIN, timeout, try)
	if w != nil {
		w.timedOut = func() []lua.LValue {
			detail := "timed out"
			if e, err := rt.Table.Get(op, fd); err == nil && e.Buffered() > 0 {
				kept := rt.Table.Peek(fd, 64)
				detail = fmt.Sprintf("timed out with the unit incomplete; %d bytes kept for the next receive, starting %s", e.Buffered(), Quote(string(kept)))
			}
			return w.fail(unix.ETIMEDOUT, detail)
		}
	}
	return res, w
}

func runRecvN(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "recvn", 1)
	n := checkInt(L, "recvn", 2, "a number of bytes")
	return rt.recvUnit("recvn", fd, optTimeout(L, "recvn", 3), func() ([]byte, error) { return rt.Table.RecvN(fd, n) }, nil)
}

func runRecvUntil(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "recvuntil", 1)
	delim := checkString(L, "recvuntil", 2, "a delimiter (a string)")
	return rt.recvUnit("recvuntil", fd, optTimeout(L, "recvuntil", 3), func() ([]byte, error) { return rt.Table.RecvUntil(fd, delim) }, nil)
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
	return rt.recvUnit("recvline", fd, optTimeout(L, "recvline", 2), func() ([]byte, error) { return rt.Table.RecvUntil(fd, "\n") }, chomp)
}

// headerAndTimeout reads the optional [HEADER] [TIMEOUT] of the frame
// helpers: a number in HEADER's place is the timeout.
func headerAndTimeout(L *lua.LState, op string, n int) (string, time.Duration) {
	if _, ok := L.Get(n).(lua.LNumber); ok {
		return "", optTimeout(L, op, n)
	}
	return optString(L, op, n, "a header kind (u8, u16be, u32be, u16le, u32le)", ""), optTimeout(L, op, n+1)
}

func runRecvFrame(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "recvframe", 1)
	header, timeout := headerAndTimeout(L, "recvframe", 2)
	return rt.recvUnit("recvframe", fd, timeout, func() ([]byte, error) { return rt.Table.RecvFrame(fd, header) }, nil)
}

func runSendLine(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "sendline", 1)
	data := checkString(L, "sendline", 2, "data (a string)")
	return rt.sendAll("sendline", fd, data+"\n", optTimeout(L, "sendline", 3))
}

func runSendFrame(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "sendframe", 1)
	data := checkString(L, "sendframe", 2, "data (a string)")
	header, timeout := headerAndTimeout(L, "sendframe", 3)
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
