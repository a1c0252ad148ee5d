package luaapi

import (
	"context"
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
	if rt.cfg.Sandbox && (o.CAFile != "" || o.CertFile != "" || o.KeyFile != "") {
		return failure(&sock.Error{Op: "tls", FD: fd, Err: unix.EPERM, Detail: "reading certificate files is refused in --sandbox"}), nil
	}
	startPoller() // before the files and the deadline's timer
	h, err := rt.table.StartTLS(fd, o)
	if err != nil {
		return failure(err), nil
	}
	run := func(ctx context.Context) any { return h.Run(ctx) }
	w := rt.goWait("tls", fd, "", rt.table.Deadline(fd, timeout), run, func(v any) ([]lua.LValue, *waitReq) {
		err, _ := v.(error)
		return rt.okOr(rt.table.FinishTLS(h, err)), nil
	})
	// Waiting on fd too: closing it wakes the call (EBADF) and ends the
	// handshake.
	w.fd1[0] = fd
	w.fds = w.fd1[:]
	return nil, w
}
