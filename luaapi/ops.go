package luaapi

import (
	"slices"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// specs is every operation of sockshell, in the order help lists them,
// and specIndex finds one by name. They are made by the package's one
// init, which runs after every package-level variable (the lists of specs)
// has its value, whatever the files are called; a variable initialized
// from the lists instead would be an initialization cycle, since help
// reads specs.
var (
	specs     []*Spec
	specIndex map[string]*Spec
)

func init() {
	specs = slices.Concat(socketOps, talkOps, framingOps, interactOps, tlsOps, logOps, taskOps, poolOps, wireOps, labOps, ladderOps, helperOps)
	specIndex = make(map[string]*Spec, len(specs))
	for _, s := range specs {
		specIndex[s.Name] = s
	}
}

// Specs returns every operation of sockshell, in the order help lists
// them. The slice is the caller's; the specs are shared and must not be
// changed.
func Specs() []*Spec { return slices.Clone(specs) }

var socketOps = []*Spec{
	{Name: "socket", Params: params(p("domain", KDomain), p("type", KType)), Results: results(KFD),
		Doc: "create a socket (domain inet|inet6|unix, type stream|dgram|seqpacket; seqpacket: unix only)", Returns: "the new descriptor",
		recorded: true, checked: true, run: runSocket},
	{Name: "bind", Params: params(p("fd", KFD), p("addr", KAddr)), Results: results(KOK),
		Doc: "give the socket a local address (port 0: the kernel picks)", Returns: "true",
		recorded: true, checked: true, run: runBind},
	{Name: "listen", Params: params(p("fd", KFD), opt("backlog", KInt)), Results: results(KOK),
		Doc: "accept connections on the socket; BACKLOG (default 128) bounds the queue of completed ones", Returns: "true",
		recorded: true, checked: true, run: runListen},
	{Name: "accept", Params: params(p("fd", KFD), opt("timeout", KSeconds)), Results: results(KFD, KAddr),
		Doc: "take a connection the kernel completed, waiting for one", Returns: "the new descriptor, the peer's address",
		recorded: true, checked: true, run: runAccept},
	{Name: "connect", Params: params(p("fd", KFD), p("addr", KAddr), opt("timeout", KSeconds)), Results: results(KOK),
		Doc: "connect to ADDR (stream: the handshake; dgram: set the default peer)", Returns: "true",
		recorded: true, checked: true, run: runConnect},
	{Name: "send", Params: params(p("fd", KFD), p("data", KData), opt("timeout", KSeconds)), Results: results(KInt),
		Doc: "send all of DATA, waiting while the send buffer is full (non-blocking: one try)", Returns: "the number of bytes sent (non-blocking: what the kernel took, maybe part); failing, a 4th value: the bytes that went",
		recorded: true, checked: true, run: runSend, fast: (*Runtime).fastSend},
	{Name: "recv", Params: params(p("fd", KFD), opt("max", KInt), opt("timeout", KSeconds)), Results: results(KChunk),
		Doc: "receive at most MAX bytes (default 65536), waiting for some", Returns: `the bytes; "" at end of stream`,
		recorded: true, checked: true, run: runRecv, fast: (*Runtime).fastRecv},
	{Name: "sendto", Params: params(p("fd", KFD), p("data", KData), p("addr", KAddr)), Results: results(KInt),
		Doc: "send DATA to ADDR (a datagram)", Returns: "the number of bytes sent; failing, a 4th value: the bytes that went",
		recorded: true, checked: true, run: runSendTo},
	{Name: "recvfrom", Params: params(p("fd", KFD), opt("max", KInt), opt("timeout", KSeconds)), Results: results(KChunk, KAddr, KWhole),
		Doc: "receive one datagram of at most MAX bytes and its sender", Returns: "the bytes, the sender's address, and the datagram's whole length if MAX cut it short",
		recorded: true, checked: true, run: runRecvFrom},
	{Name: "shutdown", Params: params(p("fd", KFD), p("how", KHow)), Results: results(KOK),
		Doc: "shut down reading (rd), writing (wr: sends FIN) or both (rdwr)", Returns: "true",
		recorded: true, checked: true, run: runShutdown},
	{Name: "close", Params: params(p("fd", KFD)), Results: results(KOK),
		Doc: "close the descriptor", Returns: "true",
		recorded: true, checked: true, run: runClose},
	{Name: "getsockname", Params: params(p("fd", KFD)), Results: results(KAddr),
		Doc: "the socket's local address", Returns: "the address",
		recorded: true, checked: true, run: runSockname},
	{Name: "getpeername", Params: params(p("fd", KFD)), Results: results(KAddr),
		Doc: "the address of the socket's peer", Returns: "the address",
		recorded: true, checked: true, run: runPeername},
	{Name: "setopt", Params: params(p("fd", KFD), p("name", KOption), p("value", KValue)), Results: results(KOK),
		Doc: "set a socket option: reuseaddr, reuseport, nodelay, keepalive, broadcast, v6only, rcvbuf, sndbuf, linger", Returns: "true",
		recorded: true, checked: true, run: runSetopt},
	{Name: "getopt", Params: params(p("fd", KFD), p("name", KOption)), Results: results(KAny),
		Doc: "read a socket option", Returns: "a boolean, or a number (bytes; linger: seconds, -1 off; error: the errno number, 0 for none, and its name)",
		recorded: true, checked: true, run: runGetopt},
	{Name: "settimeout", Params: params(p("fd", KFD), p("seconds", KSeconds)), Results: results(KOK),
		Doc: "bound every waiting call on FD to SECONDS (0: never wait; off or -1: back to the session default)", Returns: "true",
		recorded: true, checked: true, run: runSettimeout},
	{Name: "nonblock", Params: params(p("fd", KFD), p("on", KOnOff)), Results: results(KOK),
		Doc: "on: calls on FD give the kernel's non-blocking answers at once (EAGAIN, EINPROGRESS, part of a send) instead of waiting", Returns: "true",
		recorded: true, checked: true, run: runNonblock},
	{Name: "timeout", Params: params(opt("seconds", KSeconds)), Results: results(KNum),
		Doc: "set the session default timeout (0: none); without SECONDS show it", Returns: "the default timeout in seconds (0: none)",
		recorded: true, run: runTimeout},
	{Name: "info", Params: params(p("fd", KFD)), Results: results(KInfo),
		Doc: "the descriptor's row: state, addresses, byte counts, kernel queues and TCP state", Returns: "a table with fd, domain, type, state, tcp_state, local, remote, sent, received, recvq, sendq, buffered; with TLS also tls_version, tls_cipher, tls_alpn, tls_peer; on a lab host, host",
		checked: true, run: runInfo},
	{Name: "fds", Results: results(KInfoList),
		Doc: "the descriptor table", Returns: "a list of info tables, ordered by fd",
		run: runFds},
	{Name: "poll", Params: params(p("fds", KFDList), opt("timeout", KSeconds), opt("mode", KName)), Results: results(KFDList),
		Doc: `wait until one of FDS is ready to read ("r", default) or write ("w")`, Returns: "the list of ready descriptors (empty on timeout)",
		checked: true, run: runPoll},
}

func runSocket(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	domain := checkString(L, "socket", 1, "a domain (inet, inet6 or unix)")
	typ := checkString(L, "socket", 2, "a type (stream, dgram or seqpacket)")
	fd, err := rt.table.Socket(domain, typ)
	if err != nil {
		return failure(err), nil
	}
	return rt.ret1(lua.LNumber(fd)), nil
}

func runBind(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "bind", 1)
	addr := checkString(L, "bind", 2, "an address")
	return rt.afterLookup("bind", fd, addr, -1, func(time.Duration) ([]lua.LValue, *waitReq) { return rt.okOr(rt.table.Bind(fd, addr)), nil })
}

func runListen(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "listen", 1)
	backlog := optInt(L, "listen", 2, "a backlog (a number)", 128)
	return rt.okOr(rt.table.Listen(fd, backlog)), nil
}

func runAccept(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "accept", 1)
	timeout := optTimeout(L, "accept", 2)
	try := func() ([]lua.LValue, error) {
		nfd, sa, err := rt.table.Accept(fd)
		if err != nil {
			return failed(err)
		}
		return vals(lua.LNumber(nfd), lua.LString(sock.FormatAddr(sa))), nil
	}
	return rt.attempt("accept", fd, "", unix.EPOLLIN, timeout, try)
}

func runConnect(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "connect", 1)
	addr := checkString(L, "connect", 2, "an address")
	timeout := optTimeout(L, "connect", 3)
	return rt.afterLookup("connect", fd, addr, timeout, func(timeout time.Duration) ([]lua.LValue, *waitReq) { return rt.connect(fd, addr, timeout) })
}

// connect is connect once addr's host is known.
func (rt *Runtime) connect(fd int, addr string, timeout time.Duration) ([]lua.LValue, *waitReq) {
	if e, err := rt.table.Get("connect", fd); err == nil && e.Nonblock {
		// The kernel's answer to a non-blocking connect, as it is:
		// EINPROGRESS, then EALREADY until the handshake ends.
		return rt.okOr(rt.table.ConnectNow(fd, addr)), nil
	}
	err := rt.table.Connect(fd, addr)
	if err != unix.EINPROGRESS {
		return rt.okOr(err), nil
	}
	try := func() ([]lua.LValue, error) {
		err := rt.table.FinishConnect(fd, addr)
		if err == unix.EINPROGRESS {
			return nil, unix.EAGAIN
		}
		return rt.okOr(err), nil
	}
	res, w := rt.waitFor("connect", fd, addr, unix.EPOLLOUT, timeout, try)
	if w != nil {
		w.once = true
	}
	return res, w
}

func runSend(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "send", 1)
	data := checkString(L, "send", 2, "data (a string)")
	timeout := optTimeout(L, "send", 3)
	if e, err := rt.table.Get("send", fd); err == nil && e.Nonblock {
		// One send(2), its answer as the kernel gives it: part of data
		// when the buffer has room for only part, or EAGAIN.
		n, err := rt.table.Send(fd, data)
		if err == unix.EAGAIN {
			err = wouldBlock("send", fd)
		}
		if err != nil {
			return sendFailure(err, 0), nil
		}
		return rt.ret1(rt.box.count(n)), nil
	}
	return rt.sendAll("send", fd, data, timeout)
}

// sendWait goes on with a send whose first attempt took off bytes of
// data, not all of it: it waits for room in the send buffer.
func (rt *Runtime) sendWait(L *lua.LState, fd int, data string, off int) ([]lua.LValue, *waitReq) {
	s := &sending{rt: rt, op: "send", fd: fd, data: data, off: off}
	return s.wait(optTimeout(L, "send", 3))
}

// sendAll sends all of data on fd as a blocking send(2) does: it returns
// only when every byte is queued, waiting for room in the send buffer as
// often as needed within one deadline. On a non-blocking descriptor a wait
// fails with EAGAIN instead.
func (rt *Runtime) sendAll(op string, fd int, data string, timeout time.Duration) ([]lua.LValue, *waitReq) {
	s := &sending{rt: rt, op: op, fd: fd, data: data}
	res, err := s.try()
	if err != unix.EAGAIN {
		return res, nil
	}
	return s.wait(timeout)
}

// sending is a send of all of data under way: off bytes of it went.
type sending struct {
	rt     *Runtime
	op     string
	fd     int
	data   string
	off    int
	waited bool
}

// try sends what is left: the call's results, or unix.EAGAIN while some
// of data waits for room.
func (s *sending) try() ([]lua.LValue, error) {
	off, err := s.rt.table.SendRest(s.fd, s.data, s.off)
	s.off = off
	switch {
	case err == nil:
		return s.rt.ret1(s.rt.box.count(len(s.data))), nil
	case err == unix.EAGAIN:
		return nil, err
	}
	return s.fail(err), nil
}

// wait makes the wait request for the rest of data.
func (s *sending) wait(timeout time.Duration) ([]lua.LValue, *waitReq) {
	if e, err := s.rt.table.Get(s.op, s.fd); err == nil && e.Nonblock {
		return s.fail(wouldBlock(s.op, s.fd)), nil
	}
	s.waited = true
	res, w := s.rt.waitFor(s.op, s.fd, "", unix.EPOLLOUT, timeout, s.try)
	if w != nil {
		w.failWith = func(errno unix.Errno, detail string) []lua.LValue {
			return s.fail(&sock.Error{Op: s.op, FD: s.fd, Err: errno, Detail: detail})
		}
	}
	return res, w
}

// fail gives the results of the send failing with err: nil, the message,
// the code and the bytes that went. Once it sent some or waited, the
// message says how many of them went.
func (s *sending) fail(err error) []lua.LValue {
	e := &sock.Error{Op: s.op, FD: s.fd, Err: err}
	if se, ok := err.(*sock.Error); ok {
		c := *se
		c.Op, c.Sent, c.Total = s.op, 0, 0
		e = &c
	}
	if s.off > 0 || s.waited {
		e.Sent, e.Total = s.off, len(s.data)
	}
	return sendFailure(e, s.off)
}

// sendFailure is the results of a send that failed with err after sent
// bytes of its data went.
func sendFailure(err error, sent int) []lua.LValue {
	return []lua.LValue{lua.LNil, lua.LString(errText(err)), lua.LString(sock.Code(err)), lua.LNumber(sent)}
}

func wouldBlock(op string, fd int) error {
	return &sock.Error{Op: op, FD: fd, Err: unix.EAGAIN, Detail: "would block (descriptor is non-blocking)"}
}

func runRecv(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "recv", 1)
	max := optInt(L, "recv", 2, "a size in bytes", defaultRecv)
	res, err := rt.recvOnce(fd, max)
	if err != unix.EAGAIN {
		return res, nil
	}
	return rt.recvWait(L, fd, max)
}

// recvWait is recv after an attempt found nothing to read.
func (rt *Runtime) recvWait(L *lua.LState, fd, max int) ([]lua.LValue, *waitReq) {
	try := func() ([]lua.LValue, error) { return rt.recvOnce(fd, max) }
	return rt.waitFor("recv", fd, "", unix.EPOLLIN, optTimeout(L, "recv", 3), try)
}

// recvOnce is one attempt of recv: its results, or unix.EAGAIN.
func (rt *Runtime) recvOnce(fd, max int) ([]lua.LValue, error) {
	b, err := rt.table.Recv(fd, max)
	switch {
	case err != nil:
		return failed(err)
	case len(b) == 1: // reading a byte at a time is common: no allocation
		return rt.ret1(rt.box.oneByte(b[0])), nil
	}
	return rt.ret1(lua.LString(b)), nil
}

// defaultRecv is what recv and recvfrom ask for when no size is given.
const defaultRecv = 65536

// fastSend and fastRecv are the Lua functions send and recv. The common
// call (a descriptor and the data or a size, no recording) makes its one
// syscall right here, through the inlined Entry.SendNow or RecvNow, and if
// it would block goes on to wait without trying again; anything else goes
// to the generic function slow. Keeping the calls between the Lua
// interpreter and the syscall few matters (see sock/syscall.go): on return
// from the kernel's TCP stack the CPU's return predictor is full of kernel
// frames, and each return on the way back up to the interpreter mispredicts.
func (rt *Runtime) fastSend(slow lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		fd, ok := intArg(L.Get(1))
		data, isStr := L.Get(2).(lua.LString)
		if !ok || !isStr || L.GetTop() != 2 || rt.rec != nil || rt.wire != nil {
			return slow(L)
		}
		e := rt.table.SendEntry(fd)
		if e == nil {
			return slow(L) // not a socket: nothing was tried
		}
		at := rt.ladderNow()
		n, errno := e.SendNow(string(data))
		switch {
		case errno == unix.EAGAIN || errno == unix.EINTR:
			if e.Nonblock {
				return rt.fastFailed(L, at, "send", fd, sendFailure(wouldBlock("send", fd), 0))
			}
			return rt.finishSlow(L, at, "send", fd, string(data), func() ([]lua.LValue, *waitReq) { return rt.sendWait(L, fd, string(data), 0) })
		case errno != 0:
			return rt.fastFailed(L, at, "send", fd, sendFailure(&sock.Error{Op: "send", FD: fd, Err: errno}, 0))
		case n < len(data) && !e.Nonblock:
			// A blocking send returns when every byte is queued.
			return rt.finishSlow(L, at, "send", fd, string(data), func() ([]lua.LValue, *waitReq) { return rt.sendWait(L, fd, string(data), n) })
		}
		if rt.lad.on {
			fast(&rt.lad, at, fastSend, fd, string(data), n)
		}
		L.Push(rt.box.count(n))
		return 1
	}
}

func (rt *Runtime) fastRecv(slow lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		fd, ok := intArg(L.Get(1))
		max := defaultRecv
		switch L.GetTop() {
		case 1:
		case 2:
			var isInt bool
			max, isInt = intArg(L.Get(2))
			ok = ok && isInt
		default:
			ok = false
		}
		if !ok || rt.rec != nil || rt.wire != nil {
			return slow(L)
		}
		e, buf := rt.table.RecvEntry(fd, max)
		if e == nil {
			return slow(L) // not a socket, a bad size or bytes buffered: nothing was tried
		}
		at := rt.ladderNow()
		b, errno := e.RecvNow(buf)
		var got lua.LValue
		switch {
		case errno == unix.EAGAIN || errno == unix.EINTR:
			return rt.finishSlow(L, at, "recv", fd, "", func() ([]lua.LValue, *waitReq) { return rt.recvWait(L, fd, max) })
		case errno != 0:
			return rt.fastFailed(L, at, "recv", fd, failure(&sock.Error{Op: "recv", FD: fd, Err: errno}))
		case len(b) == 1:
			got = rt.box.oneByte(b[0])
		default:
			got = lua.LString(b)
		}
		if rt.lad.on {
			fast(&rt.lad, at, fastRecv, fd, b, len(b))
		}
		L.Push(got)
		return 1
	}
}

// finishSlow ends a fast-path call the way the generic function would:
// with run's results, or by waiting. It runs under the same recover. at,
// fd and sent (a send's data) are for the ladder's log.
func (rt *Runtime) finishSlow(L *lua.LState, at time.Duration, op string, fd int, sent string, run func() ([]lua.LValue, *waitReq)) int {
	defer rt.recoverOp(L, op)
	res, w := run()
	if w == nil {
		rt.ladderFast(at, op, fd, sent, res)
		return push(L, res)
	}
	if rt.lad.on {
		rt.ladderFastWaits(at, op, fd, sent)
		w.then(func(res []lua.LValue) { rt.ladderFast(0, op, fd, sent, res) })
	}
	return rt.block(L, w)
}

// fastFailed ends a fast-path call that failed at once.
func (rt *Runtime) fastFailed(L *lua.LState, at time.Duration, op string, fd int, res []lua.LValue) int {
	rt.ladderFast(at, op, fd, "", res)
	return push(L, res)
}

// intArg is v as an int, if it is a whole number.
func intArg(v lua.LValue) (int, bool) {
	x, ok := v.(lua.LNumber)
	return int(x), ok && float64(x) == float64(int(x))
}

func runSendTo(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "sendto", 1)
	data := checkString(L, "sendto", 2, "data (a string)")
	addr := checkString(L, "sendto", 3, "an address")
	return rt.afterLookup("sendto", fd, addr, -1, func(timeout time.Duration) ([]lua.LValue, *waitReq) {
		return rt.sendTo(fd, data, addr, timeout)
	})
}

// sendTo is sendto once addr's host is known.
func (rt *Runtime) sendTo(fd int, data, addr string, timeout time.Duration) ([]lua.LValue, *waitReq) {
	e, err := rt.table.Get("sendto", fd)
	if err != nil {
		return sendFailure(err, 0), nil
	}
	n, err := rt.table.SendTo(fd, data, addr)
	switch {
	case err == unix.EAGAIN && e.Nonblock:
		return sendFailure(wouldBlock("sendto", fd), 0), nil
	case err != nil && err != unix.EAGAIN:
		return sendFailure(err, 0), nil
	case e.Type == unix.SOCK_STREAM && !e.Nonblock && (err == unix.EAGAIN || n < len(data)):
		// A blocking sendto on a stream returns when every byte is
		// queued; the address is not used there.
		s := &sending{rt: rt, op: "sendto", fd: fd, data: data, off: n}
		return s.wait(timeout)
	case err == nil:
		return vals(rt.box.count(n)), nil
	}
	try := func() ([]lua.LValue, error) {
		n, err := rt.table.SendTo(fd, data, addr)
		if err == unix.EAGAIN {
			return nil, err
		}
		if err != nil {
			return sendFailure(err, 0), nil
		}
		return vals(rt.box.count(n)), nil
	}
	return rt.waitFor("sendto", fd, addr, unix.EPOLLOUT, timeout, try)
}

func runRecvFrom(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "recvfrom", 1)
	max := optInt(L, "recvfrom", 2, "a size in bytes", defaultRecv)
	timeout := optTimeout(L, "recvfrom", 3)
	try := func() ([]lua.LValue, error) {
		b, from, size, err := rt.table.RecvDatagram(fd, max)
		if err != nil {
			return failed(err)
		}
		if size > len(b) { // MAX cut the datagram short: say how long it was
			return vals(lua.LString(b), lua.LString(sock.FormatAddr(from)), lua.LNumber(size)), nil
		}
		return vals(lua.LString(b), lua.LString(sock.FormatAddr(from))), nil
	}
	return rt.attempt("recvfrom", fd, "", unix.EPOLLIN, timeout, try)
}

func runShutdown(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "shutdown", 1)
	how := checkString(L, "shutdown", 2, "rd, wr or rdwr")
	return rt.okOr(rt.table.Shutdown(fd, how)), nil
}

func runClose(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "close", 1)
	err := rt.table.Close(fd)
	if err == nil {
		rt.fdClosed(fd)
	}
	return rt.okOr(err), nil
}

func runSockname(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	a, err := rt.table.Sockname(checkFD(L, "getsockname", 1))
	if err != nil {
		return failure(err), nil
	}
	return vals(lua.LString(a)), nil
}

func runPeername(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	a, err := rt.table.Peername(checkFD(L, "getpeername", 1))
	if err != nil {
		return failure(err), nil
	}
	return vals(lua.LString(a)), nil
}

func runSetopt(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "setopt", 1)
	name := checkString(L, "setopt", 2, "an option name")
	o, ok := sock.LookupOption(name)
	if !ok {
		return failure(rt.table.SetOpt(fd, name, 0)), nil
	}
	var v int
	if o.Bool {
		if checkBool(L, "setopt", 3) {
			v = 1
		}
	} else {
		v = checkInt(L, "setopt", 3, "a number")
	}
	return rt.okOr(rt.table.SetOpt(fd, name, v)), nil
}

func runGetopt(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "getopt", 1)
	name := checkString(L, "getopt", 2, "an option name")
	v, err := rt.table.GetOpt(fd, name)
	if err != nil {
		return failure(err), nil
	}
	o, _ := sock.LookupOption(name)
	switch {
	case o.Bool:
		return vals(lua.LBool(v != 0)), nil
	case name == "error" && v != 0:
		return vals(lua.LNumber(v), lua.LString(sock.Code(unix.Errno(v)))), nil
	}
	return vals(lua.LNumber(v)), nil
}

func runSettimeout(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "settimeout", 1)
	e, err := rt.table.Get("settimeout", fd)
	if err != nil {
		return failure(err), nil
	}
	if x, ok := L.Get(2).(lua.LNumber); ok && x < 0 || L.Get(2).String() == "off" {
		e.Timeout, e.HasTimeout = 0, false
		return rt.ret1(lua.LTrue), nil
	}
	d := optTimeout(L, "settimeout", 2)
	e.Timeout, e.HasTimeout = d, d >= 0
	return rt.ret1(lua.LTrue), nil
}

func runNonblock(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "nonblock", 1)
	e, err := rt.table.Get("nonblock", fd)
	if err != nil {
		return failure(err), nil
	}
	e.Nonblock = L.Get(2) == lua.LNil || checkBool(L, "nonblock", 2)
	return rt.ret1(lua.LTrue), nil
}

func runTimeout(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	if L.Get(1) != lua.LNil {
		rt.table.DefaultTimeout = max(0, optTimeout(L, "timeout", 1))
	}
	return vals(lua.LNumber(rt.table.DefaultTimeout.Seconds())), nil
}

func runInfo(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	in, err := rt.table.Info(checkFD(L, "info", 1))
	if err != nil {
		return failure(err), nil
	}
	return vals(infoTable(L, in)), nil
}

func runFds(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	list := L.NewTable()
	for _, fd := range rt.table.FDs() {
		if in, err := rt.table.Info(fd); err == nil {
			list.Append(infoTable(L, in))
		}
	}
	return vals(list), nil
}

func infoTable(L *lua.LState, in sock.Info) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("fd", lua.LNumber(in.FD))
	t.RawSetString("domain", lua.LString(in.Domain))
	t.RawSetString("type", lua.LString(in.Type))
	t.RawSetString("state", lua.LString(in.State))
	if in.TCPState != "" {
		t.RawSetString("tcp_state", lua.LString(in.TCPState))
	}
	t.RawSetString("local", lua.LString(in.Local))
	t.RawSetString("remote", lua.LString(in.Remote))
	t.RawSetString("sent", lua.LNumber(in.Sent))
	t.RawSetString("received", lua.LNumber(in.Received))
	t.RawSetString("recvq", lua.LNumber(in.RecvQ))
	t.RawSetString("sendq", lua.LNumber(in.SendQ))
	t.RawSetString("buffered", lua.LNumber(in.Buffered))
	for k, v := range map[string]string{"host": in.Host, "tls_version": in.TLSVersion, "tls_cipher": in.TLSCipher, "tls_alpn": in.TLSALPN, "tls_peer": in.TLSPeer} {
		if v != "" {
			t.RawSetString(k, lua.LString(v))
		}
	}
	tcpFields(t, &in)
	return t
}

// InfoFromTable reads an info table back, for the shell's printing.
func InfoFromTable(t *lua.LTable) sock.Info {
	num := func(k string) int64 { n, _ := t.RawGetString(k).(lua.LNumber); return int64(n) }
	str := func(k string) string {
		if s, ok := t.RawGetString(k).(lua.LString); ok {
			return string(s)
		}
		return ""
	}
	return sock.Info{FD: int(num("fd")), Domain: str("domain"), Type: str("type"), State: str("state"),
		TCPState: str("tcp_state"), Local: str("local"), Remote: str("remote"), Sent: num("sent"),
		Received: num("received"), RecvQ: int(num("recvq")), SendQ: int(num("sendq")), Buffered: int(num("buffered")),
		TLSVersion: str("tls_version"), TLSCipher: str("tls_cipher"), TLSALPN: str("tls_alpn"), TLSPeer: str("tls_peer"),
		Host: str("host")}
}

func runPoll(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	tbl, ok := L.Get(1).(*lua.LTable)
	if !ok {
		argError(L, "poll", 1, "a list of descriptors")
	}
	var fds []int
	for i := 1; i <= tbl.Len(); i++ {
		x, ok := tbl.RawGetInt(i).(lua.LNumber)
		if !ok {
			raise(L, "poll: EINVAL: bad argument #1: expected a list of descriptors, item %d is %s", i, describe(tbl.RawGetInt(i)))
		}
		if _, err := rt.table.Get("poll", int(x)); err != nil {
			return failure(err), nil
		}
		fds = append(fds, int(x))
	}
	timeout := optTimeout(L, "poll", 2)
	mode := optString(L, "poll", 3, `"r" or "w"`, "r")
	var events int16 = unix.POLLIN
	var epev uint32 = unix.EPOLLIN
	switch mode {
	case "r":
	case "w":
		events, epev = unix.POLLOUT, unix.EPOLLOUT
	default:
		argError(L, "poll", 3, `"r" or "w"`)
	}
	check := func() ([]lua.LValue, error) {
		ready := rt.readyFDs(fds, events)
		if len(ready) == 0 {
			return nil, nil
		}
		list := rt.ls.NewTable()
		for _, fd := range ready {
			list.Append(lua.LNumber(fd))
		}
		return vals(list), nil
	}
	if res, _ := check(); res != nil || timeout == 0 || len(fds) == 0 {
		if res == nil {
			res = vals(rt.ls.NewTable())
		}
		return res, nil
	}
	if timeout < 0 {
		timeout = rt.table.DefaultTimeout
		if timeout == 0 {
			timeout = -1
		}
	}
	w := &waitReq{kind: waitPoll, fds: fds, events: epev, op: "poll", fd: -1, retry: check}
	if timeout >= 0 {
		w.deadline = time.Now().Add(timeout)
	}
	w.timedOut = func() []lua.LValue { return vals(rt.ls.NewTable()) }
	return nil, w
}

// readyFDs returns the descriptors of fds ready for events now; bytes
// buffered by a framing helper count as readable.
func (rt *Runtime) readyFDs(fds []int, events int16) []int {
	pfds := make([]unix.PollFd, len(fds))
	for i, fd := range fds {
		pfds[i] = unix.PollFd{Fd: int32(fd), Events: events}
	}
	unix.Poll(pfds, 0)
	var ready []int
	for i, fd := range fds {
		buffered := false
		if e, err := rt.table.Get("poll", fd); err == nil && events == unix.POLLIN {
			buffered = e.Buffered() > 0
		}
		if pfds[i].Revents != 0 || buffered {
			ready = append(ready, fd)
		}
	}
	return ready
}

// failed gives the outcome of an attempt that did not succeed: unix.EAGAIN
// passes through (wait and try again); any other error is the call's failure.
func failed(err error) ([]lua.LValue, error) {
	if err == unix.EAGAIN {
		return nil, err
	}
	return failure(err), nil
}

// attempt makes a call once and, if it would block, waits for it.
func (rt *Runtime) attempt(op string, fd int, addr string, events uint32, timeout time.Duration, try func() ([]lua.LValue, error)) ([]lua.LValue, *waitReq) {
	res, err := try()
	if err != unix.EAGAIN {
		return res, nil
	}
	return rt.waitFor(op, fd, addr, events, timeout, try)
}

// waitFor makes the wait request of a call that would block — or, on a
// descriptor in non-blocking mode, fails it with EAGAIN at once.
func (rt *Runtime) waitFor(op string, fd int, addr string, events uint32, timeout time.Duration, try func() ([]lua.LValue, error)) ([]lua.LValue, *waitReq) {
	if e, err := rt.table.Get(op, fd); err == nil && e.Nonblock {
		return failure(&sock.Error{Op: op, FD: fd, Addr: addr, Err: unix.EAGAIN, Detail: "would block (descriptor is non-blocking)"}), nil
	}
	w := &waitReq{kind: waitIO, events: events, deadline: rt.table.Deadline(fd, timeout),
		op: op, fd: fd, addr: addr, retry: try}
	w.fd1[0] = fd
	w.fds = w.fd1[:]
	return nil, w
}

// waitHere waits for w on this goroutine: for calls made outside any task.
func (rt *Runtime) waitHere(w *waitReq) []lua.LValue {
	for {
		switch w.kind {
		case waitIO, waitPoll:
			var ev int16 = unix.POLLIN
			if w.events&unix.EPOLLOUT != 0 {
				ev = unix.POLLOUT
			}
			if res, err := rt.guard(w, w.retry); err != unix.EAGAIN && res != nil {
				return res
			}
			if err := rt.table.Wait(rt.ctx(), w.fds[0], ev, w.deadline); err != nil {
				if err == unix.ETIMEDOUT {
					return rt.timedOut(w)
				}
				return w.fail(err.(unix.Errno), "")
			}
		case waitSleep:
			tm := time.NewTimer(time.Until(w.deadline))
			select {
			case <-tm.C:
			case <-rt.ctx().Done():
				tm.Stop()
				return w.fail(unix.EINTR, "interrupted")
			}
			return rt.timedOut(w)
		case waitGo:
			res, next := rt.finishWork(w)
			if next == nil {
				return res
			}
			w = next
		default:
			return w.fail(unix.EDEADLK, "cannot wait for a task outside a task")
		}
	}
}

func (rt *Runtime) timedOut(w *waitReq) []lua.LValue {
	if w.timedOut != nil {
		return w.timedOut()
	}
	return w.fail(unix.ETIMEDOUT, "timed out")
}

func (rt *Runtime) ret1(v lua.LValue) []lua.LValue {
	rt.rets[0] = v
	return rt.rets[:1]
}

// okOr gives true, or the failure of err.
func (rt *Runtime) okOr(err error) []lua.LValue {
	if err != nil {
		return failure(err)
	}
	return rt.ret1(lua.LTrue)
}

// boxes holds Lua values that hot paths return, each boxed the first
// time it is needed, so that returning it costs no allocation: the
// one-byte strings and small byte counts. Each Runtime has its own (a
// Runtime is used from one goroutine; a package-level cache would be
// shared by all).
type boxes struct {
	bytes  [256]lua.LValue
	counts [1025]lua.LValue
}

// oneByte is the Lua string of one byte.
func (b *boxes) oneByte(c byte) lua.LValue {
	if b.bytes[c] == nil {
		b.bytes[c] = lua.LString([]byte{c})
	}
	return b.bytes[c]
}

// count is the Lua value of a byte count.
func (b *boxes) count(n int) lua.LValue {
	if n < 0 || n >= len(b.counts) {
		return lua.LNumber(n)
	}
	if b.counts[n] == nil {
		b.counts[n] = lua.LNumber(n)
	}
	return b.counts[n]
}
