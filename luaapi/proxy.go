package luaapi

import (
	_ "embed"
	"fmt"
	"os"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/record"
	"sockshell/sock"
)

// Playing one side of a recording (mock, sockshell --as): the recording is
// read, not replayed, for the conversations its session had. Each stream
// connection the session accepted or connected is a conversation: what
// came in, what went out, where each end of stream fell, each step with the
// recording's FILE:LINE. A session that accepted (a server, or the proxy's
// client side) gives the server's side as it is and the client's mirrored;
// one that connected (a client, or the proxy's upstream side) gives the
// client's side as it is and the server's mirrored. The proxy's recording
// has both, so each side is played from the connections that had it.
//
// The recording is read by running it in a Lua state of its own, whose
// socket functions only note what the session did, task functions in the
// order they were recorded (record.InOrder).

//go:embed proxy.lua
var proxyLua string

// step is one step of a conversation, as the side being played sees it.
type step struct {
	in    bool   // data (or the end of stream) comes from the peer
	eof   bool   // the end of stream, not data
	data  string // the bytes
	match string // a pattern for the bytes (expect(..., {match = P})), else ""
	n     int    // how many bytes come in
	line  string // "FILE:LINE:" of the recording's statement
}

// conversation is one stream connection of a recording.
type conversation struct {
	accepted bool   // the session accepted it (it was the server)
	addr     string // the address served (accepted) or connected to
	steps    []step // as the session saw them
	closed   bool   // an end of stream went out
}

// mirrored returns c's steps as the other end saw them.
func (c *conversation) mirrored() []step {
	out := make([]step, len(c.steps))
	for i, s := range c.steps {
		s.in = !s.in
		out[i] = s
	}
	return out
}

// pendingRecv is what a receive returns while a recording is read: expect
// then says what it received.
type pendingRecv struct {
	c    *conversation
	n    int
	line bool // recvline: the data lacks its "\n"
	eof  bool // recv: "" means the end of stream
}

// readConversations reads the conversations of the recording in file.
func readConversations(file string) ([]*conversation, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer L.Close()
	var convs []*conversation
	type sk struct {
		bound string
		c     *conversation
	}
	socks := map[int]*sk{}
	next := 100
	fdArg := func(L *lua.LState, n int) *sk {
		if x, ok := L.Get(n).(lua.LNumber); ok {
			return socks[int(x)]
		}
		return nil
	}
	where := func(L *lua.LState) string { return L.Where(1) }
	out := func(s *sk, L *lua.LState, st step) {
		if s == nil || s.c == nil || s.c.closed {
			return
		}
		st.line = where(L)
		s.c.steps = append(s.c.steps, st)
		s.c.closed = st.eof
	}
	fns := map[string]lua.LGFunction{
		"socket": func(L *lua.LState) int {
			next++
			socks[next] = &sk{}
			L.Push(lua.LNumber(next))
			return 1
		},
		"bind": func(L *lua.LState) int {
			if s := fdArg(L, 1); s != nil {
				s.bound = L.OptString(2, "")
			}
			L.Push(lua.LTrue)
			return 1
		},
		"getsockname": func(L *lua.LState) int {
			if s := fdArg(L, 1); s != nil {
				L.Push(lua.LString(s.bound))
				return 1
			}
			return 0
		},
		"accept": func(L *lua.LState) int {
			l := fdArg(L, 1)
			next++
			c := &conversation{accepted: true}
			if l != nil {
				c.addr = l.bound
			}
			convs = append(convs, c)
			socks[next] = &sk{c: c}
			L.Push(lua.LNumber(next))
			L.Push(lua.LString("peer"))
			return 2
		},
		"connect": func(L *lua.LState) int {
			if s := fdArg(L, 1); s != nil && s.c == nil {
				s.c = &conversation{addr: L.OptString(2, "")}
				convs = append(convs, s.c)
			}
			L.Push(lua.LTrue)
			return 1
		},
		"send": func(L *lua.LState) int {
			d := L.OptString(2, "")
			out(fdArg(L, 1), L, step{data: d, n: len(d)})
			L.Push(lua.LNumber(len(d)))
			return 1
		},
		"sendline": func(L *lua.LState) int {
			d := L.OptString(2, "") + "\n"
			out(fdArg(L, 1), L, step{data: d, n: len(d)})
			L.Push(lua.LNumber(len(d)))
			return 1
		},
		"shutdown": func(L *lua.LState) int {
			if how := L.OptString(2, ""); how != "rd" {
				out(fdArg(L, 1), L, step{eof: true})
			}
			L.Push(lua.LTrue)
			return 1
		},
		"close": func(L *lua.LState) int {
			out(fdArg(L, 1), L, step{eof: true})
			L.Push(lua.LTrue)
			return 1
		},
		"expect": func(L *lua.LState) int {
			p, ok := L.Get(1).(*lua.LUserData)
			if !ok {
				return 0
			}
			r, ok := p.Value.(*pendingRecv)
			if !ok || r.c == nil {
				return 0
			}
			st := step{in: true, n: r.n, line: where(L)}
			switch want := L.Get(2).(type) {
			case lua.LString:
				st.data = string(want)
				if r.line {
					st.data += "\n"
				}
				st.n = len(st.data)
				st.eof = r.eof && st.data == ""
			case *lua.LTable:
				st.match = lua.LVAsString(want.RawGetString("match"))
			}
			r.c.steps = append(r.c.steps, st)
			return 0
		},
	}
	recvFn := func(kind string) lua.LGFunction {
		return func(L *lua.LState) int {
			r := &pendingRecv{}
			if s := fdArg(L, 1); s != nil {
				r.c = s.c
			}
			switch kind {
			case "recvn":
				r.n = L.OptInt(2, 0)
			case "recvline":
				r.line = true
			case "recv":
				r.eof = true
			}
			ud := L.NewUserData()
			ud.Value = r
			L.Push(ud)
			return 1
		}
	}
	for _, k := range []string{"recv", "recvn", "recvline"} {
		fns[k] = recvFn(k)
	}
	for name, f := range fns {
		L.SetGlobal(name, L.NewFunction(f))
	}
	// Whatever else the recording calls (strict, at, setopt, fails, ...)
	// does nothing here.
	if err := readWith(L, record.InOrder(string(src)), file); err != nil {
		return nil, err
	}
	return convs, nil
}

// runConversations gives mock (proxy.lua) the conversations of a
// recording to play as role: conversations(file, role) returns a list of
// {addr = ..., steps = {{in = bool, eof = bool, data = s, match = p, n = k,
// line = "FILE:LINE:"}, ...}}, or nil, msg, code.
func runConversations(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	file := checkString(L, "mock", 1, "a file name")
	role := checkString(L, "mock", 2, "server or client")
	if rt.cfg.Sandbox {
		return failure(&sock.Error{Op: "mock", FD: -1, Addr: file, Err: unix.EPERM, Detail: "loading files is refused in --sandbox"}), nil
	}
	if role != "server" && role != "client" {
		return failure(&sock.Error{Op: "mock", FD: -1, Addr: role, Err: unix.EINVAL, Detail: "the side to play is server or client"}), nil
	}
	convs, err := readConversations(file)
	if err != nil {
		return failure(&sock.Error{Op: "mock", FD: -1, Addr: file, Err: unix.ENOENT, Detail: SyntaxErrorText(err, 0)}), nil
	}
	// The server's side is the accepted connections' own; the client's the
	// connected ones'. Without them, the other kind, mirrored.
	own := role == "server"
	var list []*conversation
	for _, c := range convs {
		if c.accepted == own {
			list = append(list, c)
		}
	}
	mirror := len(list) == 0
	if mirror {
		list = convs
	}
	t := L.NewTable()
	for _, c := range list {
		steps := c.steps
		if mirror {
			steps = c.mirrored()
		}
		ct := L.NewTable()
		ct.RawSetString("addr", lua.LString(c.addr))
		st := L.NewTable()
		for _, s := range steps {
			e := L.NewTable()
			e.RawSetString("incoming", lua.LBool(s.in))
			e.RawSetString("eof", lua.LBool(s.eof))
			e.RawSetString("data", lua.LString(s.data))
			if s.match != "" {
				e.RawSetString("match", lua.LString(s.match))
			}
			e.RawSetString("n", lua.LNumber(s.n))
			e.RawSetString("line", lua.LString(strings.TrimSuffix(s.line, " ")))
			st.Append(e)
		}
		ct.RawSetString("steps", st)
		t.Append(ct)
	}
	if t.Len() == 0 {
		return failure(&sock.Error{Op: "mock", FD: -1, Addr: file, Err: unix.ENODATA, Detail: "the recording has no stream connection to play"}), nil
	}
	return vals(t), nil
}

// proxyRaw adds to the prelude's RAW what proxy.lua needs from Go.
func (rt *Runtime) proxyRaw() {
	L := rt.ls
	rt.raw.RawSetString("conversations", L.NewFunction(rt.wrap(&Spec{Name: "mock", run: runConversations})))
	rt.raw.RawSetString("quote", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(Quote(L.CheckString(1))))
		return 1
	}))
	rt.raw.RawSetString("warn", L.NewFunction(func(L *lua.LState) int {
		fmt.Fprintln(rt.errOut(), L.CheckString(1))
		return 0
	}))
}
