package luaapi

import (
	"net"
	"net/netip"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"
	"golang.org/x/sys/unix"

	"sockshell/record"
	"sockshell/sock"
)

// talkOps are the one-liners of nc, socat and pwntools: a connection or a
// listener in one call, made of the calls a user would type (each recorded
// as itself), and more ways to move bytes.
var talkOps = []*Spec{
	{Name: "dial", Params: params(p("addr", KAddr), opt("timeout", KSeconds)), Results: results(KFD),
		Doc: "socket + connect in one call: the family from ADDR (host:port inet or inet6, /path or @name unix), a stream unless ADDR starts udp:", Returns: "the connected descriptor (closed again if the connect fails)",
		checked: true, run: runDial},
	{Name: "serve", Params: params(p("addr", KAddr), opt("backlog", KInt)), Results: results(KFD),
		Doc: "socket + setopt reuseaddr + bind + listen in one call (udp:ADDR: a bound datagram socket)", Returns: "the listening descriptor (closed again if a step fails)",
		checked: true, run: runServe},
	{Name: "sendfile", Params: params(p("fd", KFD), p("path", KName), opt("offset", KInt), opt("count", KInt)), Results: results(KInt),
		Doc: "send COUNT bytes (default: to the end) of the file PATH from OFFSET (default 0) with sendfile(2), waiting while the send buffer is full (non-blocking: one try)", Returns: "the number of bytes sent (less than COUNT if the file ends first); failing, a 4th value: the bytes that went",
		recorded: true, checked: true, run: runSendFile},
	{Name: "recvall", Params: params(p("fd", KFD), opt("timeout", KSeconds), opt("limit", KInt)), Results: results(KData),
		Doc: "receive the stream up to its end, which must come within LIMIT bytes (default maxrecv)", Returns: `the bytes ("" if the stream had ended); nil, msg, "EMSGSIZE" past the limit`,
		recorded: true, checked: true, run: runRecvAll},
}

// dialTarget splits ADDR of dial and serve into the socket to make and the
// address to give it: udp: makes a datagram socket; a path or @name is
// unix; a host:port whose host is an IPv6 address is inet6, any other inet.
func dialTarget(op, addr string) (domain, typ, target string, err error) {
	typ, target = "stream", addr
	if rest, ok := strings.CutPrefix(addr, "udp:"); ok {
		typ, target = "dgram", rest
	} else if rest, ok := strings.CutPrefix(addr, "tcp:"); ok {
		target = rest
	}
	switch {
	case target == "":
	case strings.HasPrefix(target, "unix:") || strings.ContainsRune("/@.", rune(target[0])):
		return "unix", typ, target, nil
	default:
		host, _, err := net.SplitHostPort(target)
		if err != nil {
			break
		}
		if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() && !ip.Is4In6() {
			return "inet6", typ, target, nil
		}
		return "inet", typ, target, nil
	}
	return "", "", "", sock.Invalid(op, -1, "bad address %q: expected host:port, [v6addr]:port, /path, unix:rel/path or @name, with udp: in front for a datagram socket", addr)
}

// steps makes the calls of a one-liner, each reported to the recorder as
// the call a user would have typed, by the task that made the one-liner.
type steps struct {
	rt       *Runtime
	cur      *Task
	op, addr string // the one-liner and its ADDR, which its failures name
}

// note reports one call and its results to the recorder, if any.
func (st steps) note(op string, args []lua.LValue, res []lua.LValue) {
	rt := st.rt
	if rt.rec == nil {
		return
	}
	s := specIndex[op]
	rargs := make([]record.Value, len(args))
	for i, a := range args {
		rargs[i] = recordValue(s.Params[i].Kind, a)
	}
	rt.emit(s, st.cur, rargs, res)
}

// socket is the one-liner's first call.
func (st steps) socket(domain, typ string) (int, []lua.LValue) {
	fd, err := st.rt.table.Socket(domain, typ)
	if err != nil {
		res := failure(err)
		st.note("socket", vals(lua.LString(domain), lua.LString(typ)), res)
		if _, rest, ok := strings.Cut(res[1].String(), ": "); ok {
			res[1] = lua.LString(st.op + " " + st.addr + ": " + rest)
		}
		return -1, res
	}
	st.note("socket", vals(lua.LString(domain), lua.LString(typ)), vals(lua.LNumber(fd)))
	return fd, nil
}

// abandon closes fd after a step failed, and gives that step's failure
// as the one-liner's: "dial 127.0.0.1:1: ECONNREFUSED: ...", the
// descriptor being gone.
func (st steps) abandon(fd int, res []lua.LValue) []lua.LValue {
	res = append([]lua.LValue(nil), res...) // close's own results reuse the runtime's buffer
	if _, rest, ok := strings.Cut(res[1].String(), ": "); ok {
		res[1] = lua.LString(st.op + " " + st.addr + ": " + rest)
	}
	// No other task knows fd yet; the call's own wait on it (a connect's)
	// ends with these results, and the next socket may get the number.
	err := st.rt.table.Close(fd)
	delete(st.rt.s.registered, fd)
	st.note("close", vals(lua.LNumber(fd)), st.rt.okOr(err))
	return res
}

func runDial(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	addr := checkString(L, "dial", 1, "an address")
	timeout := optTimeout(L, "dial", 2)
	domain, typ, target, err := dialTarget("dial", addr)
	if err != nil {
		return failure(err), nil
	}
	st := steps{rt: rt, cur: rt.s.cur, op: "dial", addr: addr}
	fd, res := st.socket(domain, typ)
	if res != nil {
		return res, nil
	}
	args := vals(lua.LNumber(fd), lua.LString(target))
	res, w := rt.afterLookup("connect", fd, target, timeout, func(timeout time.Duration) ([]lua.LValue, *waitReq) {
		return rt.connect(fd, target, timeout)
	})
	return mapResults(res, w, func(res []lua.LValue) []lua.LValue {
		st.note("connect", args, res)
		if res[0] != lua.LTrue {
			return st.abandon(fd, res)
		}
		return vals(lua.LNumber(fd))
	})
}

func runServe(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	addr := checkString(L, "serve", 1, "an address")
	backlog := optInt(L, "serve", 2, "a backlog (a number)", 128)
	domain, typ, target, err := dialTarget("serve", addr)
	if err != nil {
		return failure(err), nil
	}
	st := steps{rt: rt, cur: rt.s.cur, op: "serve", addr: addr}
	fd, res := st.socket(domain, typ)
	if res != nil {
		return res, nil
	}
	if domain != "unix" { // SO_REUSEADDR means nothing to AF_UNIX
		res := rt.okOr(rt.table.SetOpt(fd, "reuseaddr", 1))
		st.note("setopt", vals(lua.LNumber(fd), lua.LString("reuseaddr"), lua.LTrue), res)
		if res[0] != lua.LTrue {
			return st.abandon(fd, res), nil
		}
	}
	res, w := rt.afterLookup("bind", fd, target, -1, func(time.Duration) ([]lua.LValue, *waitReq) {
		return rt.okOr(rt.table.Bind(fd, target)), nil
	})
	return mapResults(res, w, func(res []lua.LValue) []lua.LValue {
		st.note("bind", vals(lua.LNumber(fd), lua.LString(target)), res)
		if res[0] != lua.LTrue {
			return st.abandon(fd, res)
		}
		if typ == "stream" {
			res := rt.okOr(rt.table.Listen(fd, backlog))
			st.note("listen", vals(lua.LNumber(fd), lua.LNumber(backlog)), res)
			if res[0] != lua.LTrue {
				return st.abandon(fd, res)
			}
		}
		return vals(lua.LNumber(fd))
	})
}

// mapResults makes f the last step of a call: the results it has now, or
// those of the wait w, whichever way the wait ends (done, timed out,
// interrupted, its descriptor closed, a lookup followed by another wait),
// pass through f.
func mapResults(res []lua.LValue, w *waitReq, f func([]lua.LValue) []lua.LValue) ([]lua.LValue, *waitReq) {
	if w == nil {
		return f(res), nil
	}
	if retry := w.retry; retry != nil {
		w.retry = func() ([]lua.LValue, error) {
			r, err := retry()
			if err != nil || r == nil {
				return r, err
			}
			return f(r), nil
		}
	}
	if timedOut := w.timedOut; timedOut != nil {
		w.timedOut = func() []lua.LValue { return f(timedOut()) }
	}
	failWith := w.failWith
	w.failWith = func(errno unix.Errno, detail string) []lua.LValue {
		if failWith != nil {
			return f(failWith(errno, detail))
		}
		return f(failure(&sock.Error{Op: w.op, FD: w.fd, Addr: w.addr, Err: errno, Detail: detail}))
	}
	if g := w.work; g != nil {
		then := g.then
		g.then = func(v any) ([]lua.LValue, *waitReq) {
			r, next := then(v)
			return mapResults(r, next, f)
		}
	}
	return nil, w
}

func runSendFile(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "sendfile", 1)
	path := checkString(L, "sendfile", 2, "a file name")
	off := int64(optInt(L, "sendfile", 3, "an offset in bytes", 0))
	count := int64(optInt(L, "sendfile", 4, "a number of bytes", -1))
	if rt.cfg.Sandbox {
		return sendFailure(&sock.Error{Op: "sendfile", FD: fd, Addr: path, Err: unix.EPERM, Detail: "file access is refused in --sandbox"}, 0), nil
	}
	if off < 0 || L.Get(4) != lua.LNil && count < 0 {
		return sendFailure(sock.Invalid("sendfile", fd, "bad offset or count: expected numbers of bytes >= 0"), 0), nil
	}
	var sent int64
	waited := false
	fail := func(err error) []lua.LValue {
		e := &sock.Error{Op: "sendfile", FD: fd, Addr: path, Err: err}
		if se, ok := err.(*sock.Error); ok {
			c := *se
			e = &c
		}
		if sent > 0 || waited {
			e.Sent, e.Total = int(sent), int(sent)
			if count >= 0 {
				e.Total = int(count)
			}
		}
		return sendFailure(e, int(sent))
	}
	try := func() ([]lua.LValue, error) {
		want := count
		if want >= 0 {
			want -= sent
		}
		n, done, err := rt.table.SendFile(fd, path, off+sent, want)
		sent += n
		switch {
		case err == unix.EAGAIN:
			return nil, err
		case err != nil:
			return fail(err), nil
		case !done:
			return nil, unix.EAGAIN
		}
		return vals(lua.LNumber(sent)), nil
	}
	res, err := try()
	if err != unix.EAGAIN {
		return res, nil
	}
	if rt.nonblock(fd) {
		if sent > 0 {
			return vals(lua.LNumber(sent)), nil // what the kernel took
		}
		return fail(wouldBlock("sendfile", fd)), nil
	}
	waited = true
	res, w := rt.waitFor("sendfile", fd, path, unix.EPOLLOUT, -1, try)
	if w != nil {
		w.failWith = func(errno unix.Errno, detail string) []lua.LValue {
			return fail(&sock.Error{Op: "sendfile", FD: fd, Addr: path, Err: errno, Detail: detail})
		}
	}
	return res, w
}

func runRecvAll(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "recvall", 1)
	timeout, limit := optTimeout(L, "recvall", 2), optLimit(L, "recvall", 3)
	return rt.recvUnit("recvall", fd, timeout, func() ([]byte, error) { return rt.table.RecvAll(fd, limit) }, nil)
}

// recvMatch is recvuntil(fd, {match = PATTERN}): the stream through the
// end of the first match of the Lua pattern, which must end within LIMIT
// bytes. The pattern is matched again against all the buffered bytes each
// time more arrive (at most LIMIT of them each time), so a unit that
// comes in k pieces costs k matches: keep LIMIT near what the unit needs.
func runRecvMatch(rt *Runtime, L *lua.LState, pattern string) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "recvuntil", 1)
	timeout, limit := optTimeout(L, "recvuntil", 3), optLimit(L, "recvuntil", 4)
	if pattern == "" {
		return failure(sock.Invalid("recvuntil", fd, "empty pattern: expected one that matches at least one byte")), nil
	}
	if _, err := pm.Find(pattern, nil, 0, 1); err != nil {
		return failure(sock.Invalid("recvuntil", fd, "bad pattern %s: %v", Quote(pattern), err)), nil
	}
	find := func(p []byte) int {
		mds, err := pm.Find(pattern, p, 0, 1)
		if err != nil || len(mds) == 0 || mds[0].Capture(1) == 0 {
			return -1 // an empty match at the start ends nothing
		}
		return mds[0].Capture(1)
	}
	desc := Quote(pattern)
	res, w := rt.recvUnit("recvuntil", fd, timeout, func() ([]byte, error) { return rt.table.RecvMatch("recvuntil", fd, limit, desc, find) }, nil)
	if rt.rec == nil {
		return res, w
	}
	// A recording holds the bytes the pattern took as a recv of them
	// (which it checks with recvn): a replay gets the same unit whatever
	// the pattern was. A failure is not recorded.
	rt.reported = true
	st := steps{rt: rt, cur: rt.s.cur}
	return mapResults(res, w, func(res []lua.LValue) []lua.LValue {
		if data, ok := res[0].(lua.LString); ok {
			st.note("recv", vals(lua.LNumber(fd)), vals(data))
		}
		return res
	})
}
