package luaapi

import (
	"context"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/sock"
)

var tlsOps = []*Spec{
	{Name: "tls", Params: params(p("fd", KFD), opt("servername", KName), opt("opts", KRest)), Results: results(KOK),
		Doc: "speak TLS on the connected stream FD from now on (also after a plain exchange: STARTTLS): a client verifying SERVERNAME " +
			"(default: connect's host) against the system's roots, or server [CERT KEY] (default: a self-signed certificate); " +
			"OPTS: ca=PATH, insecure, alpn=h2,http/1.1, cert=PATH key=PATH, timeout=SECS (in Lua also a table {ca=..., insecure=true})",
		Returns:  "true; then send, recv and the framing helpers go through TLS, and info shows tls_version, tls_cipher, tls_alpn, tls_peer",
		recorded: true, checked: true, run: runTLS},
}

// tlsOptionWords are the option words tls takes, for its error.
const tlsOptionWords = "ca=PATH, insecure, alpn=LIST, cert=PATH, key=PATH, timeout=SECS"

func runTLS(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fd := checkFD(L, "tls", 1)
	var o sock.TLSOptions
	timeout := time.Duration(-1)
	var positional []string
	set := func(n int, key string, v lua.LValue) {
		str := func() string {
			s, ok := v.(lua.LString)
			if !ok || s == "" {
				raise(L, "tls: EINVAL: bad argument #%d: expected %s=VALUE, got %s", n, key, describe(v))
			}
			return string(s)
		}
		switch key {
		case "ca":
			o.CAFile = str()
		case "cert":
			o.CertFile = str()
		case "key":
			o.KeyFile = str()
		case "servername", "name":
			o.ServerName = str()
		case "insecure":
			o.Insecure = v != lua.LFalse && v != lua.LNil && v != lua.LString("off") && v != lua.LString("false")
		case "alpn":
			if t, ok := v.(*lua.LTable); ok {
				for i := 1; i <= t.Len(); i++ {
					o.ALPN = append(o.ALPN, t.RawGetInt(i).String())
				}
				return
			}
			o.ALPN = strings.Split(str(), ",")
		case "timeout":
			d, ok := ParseSeconds(v.String())
			if !ok {
				raise(L, "tls: EINVAL: bad argument #%d: expected timeout=SECS, got %s", n, describe(v))
			}
			timeout = d
		default:
			raise(L, "tls: EINVAL: bad argument #%d: unknown option %s: expected %s", n, describe(lua.LString(key)), tlsOptionWords)
		}
	}
	for n := 2; n <= L.GetTop(); n++ {
		switch v := L.Get(n).(type) {
		case *lua.LNilType:
		case *lua.LTable:
			v.ForEach(func(k, val lua.LValue) {
				if key, ok := k.(lua.LString); ok {
					set(n, string(key), val)
				}
			})
		case lua.LString:
			w := string(v)
			if key, val, ok := strings.Cut(w, "="); ok {
				set(n, key, lua.LString(val))
			} else if w == "insecure" {
				o.Insecure = true
			} else if w == "server" && n == 2 {
				o.Server = true
			} else {
				positional = append(positional, w)
			}
		default:
			argError(L, "tls", n, "a server name, server, or options ("+tlsOptionWords+")")
		}
	}
	switch {
	case o.Server && len(positional) == 2:
		o.CertFile, o.KeyFile = positional[0], positional[1]
	case !o.Server && len(positional) == 1 && o.ServerName == "":
		o.ServerName = positional[0]
	case len(positional) > 0:
		raise(L, "tls: EINVAL: unexpected %s: expected tls FD [SERVERNAME] [OPTS] or tls FD server [CERT KEY] [OPTS] (OPTS: %s)",
			describe(lua.LString(positional[0])), tlsOptionWords)
	}
	canonical(L, o, timeout)
	if rt.cfg.Sandbox && (o.CAFile != "" || o.CertFile != "" || o.KeyFile != "") {
		return failure(&sock.Error{Op: "tls", FD: fd, Err: unix.EPERM, Detail: "reading certificate files is refused in --sandbox"}), nil
	}
	startPoller() // before the files and the deadline's timer
	h, err := rt.table.StartTLS(fd, o)
	if err != nil {
		return failure(err), nil
	}
	// The descriptor gets its TLS, or is plain again, when the handshake
	// ends, whether or not the call still waits for it (Ctrl-C, kill):
	// the goroutine posts that, and the call's own end does it if it
	// comes first (a call waiting outside any task). Calls of other tasks
	// that waited on the descriptor meanwhile try again.
	var end struct {
		done, there bool
		err         error
	}
	finish := func(err error) {
		if end.done {
			return
		}
		end.done, end.err = true, err
		if end.there = rt.table.EndTLS(h, err); end.there {
			rt.fdReady(fd, unix.EPOLLIN|unix.EPOLLOUT)
		}
	}
	run := func(ctx context.Context) any {
		err := h.Run(ctx)
		rt.Post(func() { finish(err) })
		return err
	}
	w := rt.goWait("tls", fd, "", rt.table.Deadline(fd, timeout), run, func(v any) ([]lua.LValue, *waitReq) {
		err, _ := v.(error)
		finish(err)
		return rt.okOr(h.Err(end.err, end.there)), nil
	})
	// Waiting on fd too: closing it wakes the call (EBADF) and ends the
	// handshake.
	w.fd1[0] = fd
	w.fds = w.fd1[:]
	return nil, w
}

// canonical puts the call's arguments back as words, fd first, so that a
// recording writes them as a call the shell and Lua both take (a table of
// options would not survive being written).
func canonical(L *lua.LState, o sock.TLSOptions, timeout time.Duration) {
	fd := L.Get(1)
	L.SetTop(0)
	L.Push(fd)
	switch {
	case o.Server:
		L.Push(lua.LString("server"))
	case o.ServerName != "":
		L.Push(lua.LString(o.ServerName))
	}
	word := func(key, v string) {
		if v != "" {
			L.Push(lua.LString(key + "=" + v))
		}
	}
	word("ca", o.CAFile)
	word("cert", o.CertFile)
	word("key", o.KeyFile)
	word("alpn", strings.Join(o.ALPN, ","))
	if timeout >= 0 {
		word("timeout", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64))
	}
	if o.Insecure {
		L.Push(lua.LString("insecure"))
	}
}
