package luaapi

import (
	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// poolOps are the calls of the seed's lesson on concurrent servers made of
// processes: socket pairs, descriptors passed between processes, worker
// processes (workers.go).
var poolOps = []*Spec{
	{Name: "socketpair", Params: params(p("domain", KDomain), p("type", KType)), Results: results(KFD, KFD),
		Doc: "create two sockets connected to each other (domain unix; type stream|dgram|seqpacket), unnamed", Returns: "the two descriptors",
		recorded: true, checked: true, run: runSocketPair},
	{Name: "sendfd", Params: params(p("fd", KFD), p("passed", KFD), opt("data", KData)), Results: results(KInt),
		Doc: `send a copy of descriptor PASSED over the AF_UNIX socket FD (SCM_RIGHTS) with DATA (default "\0": a byte must travel); the sender keeps its own`, Returns: "the number of bytes of DATA sent",
		recorded: true, checked: true, run: runSendFD},
	{Name: "recvfd", Params: params(p("fd", KFD), opt("timeout", KSeconds)), Results: results(KFD, KData),
		Doc: "receive a descriptor sent over the AF_UNIX socket FD; it joins the table as the kernel describes it (domain, type, state, addresses)", Returns: `the new descriptor and the data that came with it; nil, msg, "ENOMSG" for data without one (kept for the next receive)`,
		recorded: true, checked: true, run: runRecvFD},
	{Name: "peercred", Params: params(p("fd", KFD)), Results: results(KInt, KInt, KInt),
		Doc: "the process at the other end of an AF_UNIX socket when it connected (SO_PEERCRED)", Returns: "its pid, uid and gid",
		checked: true, run: runPeerCred},
	{Name: "workers", Params: params(p("n", KInt), p("script", KName), opt("fds", KFDList), opt("args", KRest)), Results: results(KAny),
		Doc: "start N sockshell processes running SCRIPT with ARGS, each inheriting the descriptors FDS at the same numbers; a worker's global worker is its number (1..N), inherited its descriptors; its output lines start [N]", Returns: `the list of the workers' handles (w.pid, w.n): wait(list) waits for all (true, or nil, the failures, "ETASK"), wait(w) for one (its exit status, 0)`,
		recorded: true, checked: true, run: runWorkers},
}

func runSocketPair(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	domain := checkString(L, "socketpair", 1, "a domain (unix)")
	typ := checkString(L, "socketpair", 2, "a type (stream, dgram or seqpacket)")
	a, b, err := rt.table.SocketPair(domain, typ)
	if err != nil {
		return failure(err), nil
	}
	return vals(lua.LNumber(a), lua.LNumber(b)), nil
}

// refuseInSandbox raises the error of an operation --sandbox refuses.
func (rt *Runtime) refuseInSandbox(L *lua.LState, op, why string) {
	if rt.cfg.Sandbox {
		raise(L, "%s is refused in --sandbox (%s)", op, why)
	}
}

func runSendFD(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	rt.refuseInSandbox(L, "sendfd", "a descriptor passed to another process leaves the sandbox")
	fd := checkFD(L, "sendfd", 1)
	passed := checkFD(L, "sendfd", 2)
	data := optString(L, "sendfd", 3, "data (a string)", "\x00")
	n, err := rt.table.SendFD(fd, passed, data)
	if err == unix.EAGAIN {
		e, _ := rt.table.Get("sendfd", fd)
		if e.Nonblock {
			return sendFailure(wouldBlock("sendfd", fd), 0), nil
		}
		try := func() ([]lua.LValue, error) {
			n, err := rt.table.SendFD(fd, passed, data)
			switch {
			case err == unix.EAGAIN:
				return nil, err
			case err != nil:
				return sendFailure(err, 0), nil
			case n < len(data):
				return rt.sendRestNow("sendfd", fd, data, n), nil
			}
			return vals(lua.LNumber(n)), nil
		}
		return rt.waitFor("sendfd", fd, "", unix.EPOLLOUT, -1, try)
	}
	switch {
	case err != nil:
		return sendFailure(err, 0), nil
	case n < len(data):
		// A stream took part of the data: the descriptor went with it,
		// and a blocking send goes on with the rest.
		s := &sending{rt: rt, op: "sendfd", fd: fd, data: data, off: n}
		if res, err := s.try(); err != unix.EAGAIN {
			return res, nil
		}
		return s.wait(-1)
	}
	return vals(lua.LNumber(n)), nil
}

// sendRestNow sends what is left of data after a wait took off bytes,
// without waiting again: the results of the whole send so far.
func (rt *Runtime) sendRestNow(op string, fd int, data string, off int) []lua.LValue {
	s := &sending{rt: rt, op: op, fd: fd, data: data, off: off, waited: true}
	res, err := s.try()
	if err == unix.EAGAIN {
		return s.fail(&sock.Error{Op: op, FD: fd, Err: unix.EAGAIN, Detail: "the send buffer filled after the descriptor went"})
	}
	return res
}

func runRecvFD(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	rt.refuseInSandbox(L, "recvfd", "a descriptor received from another process was never under the sandbox's limits")
	fd := checkFD(L, "recvfd", 1)
	timeout := optTimeout(L, "recvfd", 2)
	try := func() ([]lua.LValue, error) {
		nfd, data, err := rt.table.RecvFD(fd, defaultRecv)
		if err != nil {
			return failed(err)
		}
		return vals(lua.LNumber(nfd), lua.LString(data)), nil
	}
	return rt.attempt("recvfd", fd, "", unix.EPOLLIN, timeout, try)
}

func runPeerCred(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	c, err := rt.table.PeerCred(checkFD(L, "peercred", 1))
	if err != nil {
		return failure(err), nil
	}
	return vals(lua.LNumber(c.PID), lua.LNumber(c.UID), lua.LNumber(c.GID)), nil
}
