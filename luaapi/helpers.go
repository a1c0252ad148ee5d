package luaapi

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/sock"
)

var helperOps = []*Spec{
	{Name: "expect", Params: params(p("got", KAny), p("want", KAny), opt("msg", KName)), Results: results(KAny),
		Doc: "raise an error naming both values unless GOT equals WANT (or matches {match = PATTERN})", Returns: "GOT",
		run: runExpect},
	{Name: "hex", Params: params(p("data", KData)), Results: results(KString),
		Doc: "the bytes as hex digits", Returns: "a string of hex digits", run: runHex},
	{Name: "unhex", Params: params(p("hex", KName)), Results: results(KData),
		Doc: "the bytes of hex digits (spaces and colons ignored)", Returns: `the bytes; nil, msg, "EINVAL" for bad digits`, run: runUnhex},
	{Name: "hexdump", Params: params(p("data", KData)), Results: results(KString),
		Doc: "the bytes as a hexdump -C listing", Returns: "the listing", run: runHexdump},
	{Name: "strict", Params: params(p("on", KOnOff)), Results: results(KOK),
		Doc: "on: every failing operation raises an error at its line (recordings start with it)", Returns: "true"},
	{Name: "fails", Params: params(p("code", KName), p("fn", KFunc), opt("args", KRest)), Results: results(KRest),
		Doc: "call fn(ARGS...) and raise unless it fails with errno CODE", Returns: "nil, msg, code"},
	{Name: "at", Params: params(p("seconds", KSeconds)), Results: results(KOK),
		Doc: "in a replay with --realtime, wait until SECONDS after the start; otherwise nothing", Returns: "true",
		run: runAt},
	{Name: "record", Params: params(p("file", KName)), Results: results(KOK),
		Doc: "record this session's operations into FILE as a replayable script; record stop ends it", Returns: "true",
		checked: true, run: runRecord},
	{Name: "replay", Params: params(p("file", KName)), Results: results(KOK),
		Doc: "run a recorded session, checking that it goes the same way", Returns: "true",
		checked: true},
	{Name: "help", Params: params(opt("command", KCommand)), Results: results(),
		Doc: "list the commands, or describe one", run: runHelp},
}

func runExpect(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	got, want := L.Get(1), L.Get(2)
	if L.GetTop() < 2 {
		raise(L, "expect: EINVAL: expected two values to compare: expect(got, want [, msg])")
	}
	if m, ok := want.(*lua.LTable); ok {
		if pat, ok := m.RawGetString("match").(lua.LString); ok {
			s, isStr := got.(lua.LString)
			if isStr && L.CallByParam(lua.P{Fn: L.GetField(L.GetGlobal("string"), "find"), NRet: 1, Protect: false}, s, pat) == nil && L.Get(-1) != lua.LNil {
				L.Pop(1)
				return vals(got), nil
			}
			if isStr {
				L.Pop(1)
			}
			expectFail(L, fmt.Sprintf("a match for %s", Quote(string(pat))), got)
		}
	}
	if !deepEqual(got, want, 0) {
		expectFail(L, Show(want), got)
	}
	return vals(got), nil
}

func expectFail(L *lua.LState, want string, got lua.LValue) {
	msg := ""
	if s, ok := L.Get(3).(lua.LString); ok {
		msg = string(s) + ": "
	}
	raise(L, "%sexpected %s, got %s", msg, want, Show(got))
}

func deepEqual(a, b lua.LValue, depth int) bool {
	if a == b {
		return true
	}
	ta, ok1 := a.(*lua.LTable)
	tb, ok2 := b.(*lua.LTable)
	if !ok1 || !ok2 || depth > 20 {
		if na, ok := a.(lua.LNumber); ok {
			nb, ok := b.(lua.LNumber)
			return ok && na == nb
		}
		if sa, ok := a.(lua.LString); ok {
			sb, ok := b.(lua.LString)
			return ok && sa == sb
		}
		return false
	}
	equal := true
	ta.ForEach(func(k, v lua.LValue) {
		if equal && !deepEqual(v, tb.RawGet(k), depth+1) {
			equal = false
		}
	})
	tb.ForEach(func(k, v lua.LValue) {
		if equal && ta.RawGet(k) == lua.LNil {
			equal = false
		}
	})
	return equal
}

// Show formats a Lua value for messages and the shell: strings in the DATA
// syntax, tables with their contents.
func Show(v lua.LValue) string { return show(v, 0) }

// identifier reports whether s can stand as a table key without brackets
// (a Lua name); any other key, which may hold whatever bytes a peer sent,
// is shown quoted.
func identifier(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

func show(v lua.LValue, depth int) string {
	switch x := v.(type) {
	case lua.LString:
		return Quote(string(x))
	case *lua.LUserData:
		if s, ok := x.Value.(fmt.Stringer); ok {
			return s.String()
		}
	case lua.LNumber:
		f := float64(x)
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			return strconv.FormatInt(int64(f), 10)
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	case *lua.LTable:
		if depth > 3 {
			return "{...}"
		}
		var parts []string
		n := x.Len()
		for i := 1; i <= n; i++ {
			parts = append(parts, show(x.RawGetInt(i), depth+1))
		}
		var keyed []string
		x.ForEach(func(k, val lua.LValue) {
			if kn, ok := k.(lua.LNumber); ok && int(kn) >= 1 && int(kn) <= n && float64(kn) == float64(int(kn)) {
				return
			}
			ks := k.String()
			if _, ok := k.(lua.LString); !ok || !identifier(ks) {
				ks = "[" + show(k, depth+1) + "]"
			}
			keyed = append(keyed, ks+" = "+show(val, depth+1))
		})
		sort.Strings(keyed)
		return "{" + strings.Join(append(parts, keyed...), ", ") + "}"
	}
	return v.String()
}

func runHex(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	return vals(lua.LString(fmt.Sprintf("%x", checkString(L, "hex", 1, "a string")))), nil
}

func runUnhex(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	s, err := Unhex(checkString(L, "unhex", 1, "a string of hex digits"))
	if err != nil {
		return failure(&sock.Error{Op: "unhex", FD: -1, Err: unix.EINVAL, Detail: err.Error()}), nil
	}
	return vals(lua.LString(s)), nil
}

func runHexdump(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	return vals(lua.LString(Hexdump(checkString(L, "hexdump", 1, "a string")))), nil
}

func runAt(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	d := optTimeout(L, "at", 1)
	if !rt.cfg.Realtime || d < 0 || time.Since(rt.start) >= d {
		return rt.ret1(lua.LTrue), nil
	}
	return nil, &waitReq{kind: waitSleep, deadline: rt.start.Add(d), op: "at", fd: -1,
		timedOut: func() []lua.LValue { return vals(lua.LTrue) }}
}

func runRecord(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	file := checkString(L, "record", 1, "a file name, or stop")
	if rt.cfg.Sandbox {
		return failure(&sock.Error{Op: "record", FD: -1, Addr: file, Err: unix.EPERM, Detail: "file writes are refused in --sandbox"}), nil
	}
	if rt.OnRecord == nil {
		return failure(&sock.Error{Op: "record", FD: -1, Err: unix.ENOTSUP, Detail: "recording is not available here"}), nil
	}
	if file == "stop" {
		file = ""
	}
	if err := rt.OnRecord(file); err != nil {
		errno := unix.EIO
		errors.As(err, &errno)
		return failure(&sock.Error{Op: "record", FD: -1, Addr: file, Err: errno, Detail: err.Error()}), nil
	}
	return rt.ret1(lua.LTrue), nil
}

// runLoadReplay compiles a recording for replay(), which the prelude
// defines in Lua so that the recording's waiting calls can yield.
func runLoadReplay(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	file := checkString(L, "replay", 1, "a file name")
	if rt.cfg.Sandbox {
		return failure(&sock.Error{Op: "replay", FD: -1, Addr: file, Err: unix.EPERM, Detail: "loading files is refused in --sandbox"}), nil
	}
	fn, err := rt.LoadFile(file)
	if err != nil {
		return failure(&sock.Error{Op: "replay", FD: -1, Addr: file, Err: unix.ENOENT, Detail: SyntaxErrorText(err, 0)}), nil
	}
	return vals(fn), nil
}

func runHelp(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	name := optString(L, "help", 1, "a command name", "")
	text := Help(name)
	if text == "" {
		detail := "no such command; help lists them"
		if near := Nearest(name); near != "" {
			detail = fmt.Sprintf("no such command; did you mean %q?", near)
		}
		return failure(&sock.Error{Op: "help", FD: -1, Addr: name, Err: unix.ENOENT, Detail: detail}), nil
	}
	fmt.Fprint(rt.out, text)
	return nil, nil
}

// Help returns the help text: every command with its synopsis and one
// line, or the whole description of one.
func Help(name string) string {
	var b strings.Builder
	if name == "" {
		b.WriteString("Commands (also Lua functions of the same name; any other line is Lua):\n")
		for _, s := range specs {
			fmt.Fprintf(&b, "  %-44s %s\n", s.Usage(), s.Doc)
		}
		b.WriteString("  exit, quit                                   close every socket and leave (or Ctrl-D)\n")
		b.WriteString("ADDR: host:port, [v6addr]:port, /path, unix:rel/path, @abstract; port 0: the kernel picks.\n")
		b.WriteString(`DATA: word, "C \n \r \t \0 \\ \" \xNN escapes", or hex:48656c6c6f. TIMEOUT: 2, 0.5, 250ms.` + "\n")
		b.WriteString("Show received data as a hexdump with -x (recv -x 4), all of long data with -a; _ holds the last result.\n")
		b.WriteString("help COMMAND describes one.\n")
		return b.String()
	}
	if name == "exit" || name == "quit" {
		return name + "\n  close every socket the session opened and leave the shell (also Ctrl-D at the prompt;\n" +
			"  exit and quit are the same)\n  in a script, the script ends when its main chunk returns\n"
	}
	s, ok := Lookup(name)
	if !ok {
		return ""
	}
	fmt.Fprintf(&b, "%s\n  %s\n", s.Usage(), s.Doc)
	if s.Returns != "" {
		fmt.Fprintf(&b, "  returns: %s\n", s.Returns)
	}
	if s.checked {
		ex := failExamples[s.Name]
		code, _, _ := strings.Cut(ex[strings.Index(ex, ": ")+2:], ":")
		fmt.Fprintf(&b, "  on failure: nil, message, code (e.g. nil, %q, %q)\n", ex, code)
	}
	if len(s.Results) > 0 && (s.Results[0] == KData || s.Results[0] == KChunk) {
		fmt.Fprintf(&b, "  in the shell: %s -x ... prints the data as a hexdump, %s -a ... all of it\n", s.Name, s.Name)
		b.WriteString("  (data over 1 KiB is shown as its first 256 bytes and its length; _ holds it all)\n")
	}
	if name == "setopt" || name == "getopt" {
		b.WriteString("  options:\n")
		for _, o := range sock.Options() {
			kind := "bytes"
			switch {
			case o.Bool:
				kind = "on|off"
			case o.Name == "linger":
				kind = "seconds"
			case o.Name == "error":
				kind = "errno"
			}
			fmt.Fprintf(&b, "    %-10s %-7s %s\n", o.Name, kind, o.Doc)
		}
	}
	if name == "ladder" {
		b.WriteString("  examples:\n    " + strings.ReplaceAll(ladderExample, "\n", "\n    ") + "\n")
	}
	return b.String()
}

// Signature is the Lua call: recv(fd [, max] [, timeout]).
func (s *Spec) Signature() string {
	var b strings.Builder
	b.WriteString(s.Name + "(")
	for i, p := range s.Params {
		name := p.Name
		if p.Kind == KRest {
			name = "..."
		}
		switch {
		case p.Optional && i == 0:
			fmt.Fprintf(&b, "[%s]", name)
		case p.Optional:
			fmt.Fprintf(&b, " [, %s]", name)
		case i == 0:
			b.WriteString(name)
		default:
			b.WriteString(", " + name)
		}
	}
	b.WriteString(")")
	return b.String()
}

// Reference is the Lua API reference in Markdown, made from Specs: the
// README's copy is checked against it by a test.
func Reference() string {
	var b strings.Builder
	b.WriteString("| function | what it does | returns | on failure |\n|---|---|---|---|\n")
	for _, s := range specs {
		fail := "raises on a bad argument"
		if s.checked {
			fail = "`nil, msg, code`"
		}
		ret := s.Returns
		if ret == "" {
			ret = "nothing"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", s.Signature(), mdEscape(s.Doc), mdEscape(ret), fail)
	}
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// syntaxError is compiled on first use: at start-up it would cost every
// run of a script that has none.
var syntaxError = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(.*?) line:(\d+)\(column:(\d+)\) (.*)$`)
})

// SyntaxErrorText turns gopher-lua's compile errors ("f.lua line:3(column:5)
// near 'x':   syntax error") into the FILE:LINE: form of every other error.
// An error at the end of the source is put on its last line, lines.
func SyntaxErrorText(err error, lines int) string {
	msg := strings.TrimSpace(luaErrorText(err))
	if m := syntaxError().FindStringSubmatch(msg); m != nil {
		return m[1] + ":" + m[2] + ": " + strings.Join(strings.Fields(m[4]), " ")
	}
	if file, rest, ok := strings.Cut(msg, " at EOF:"); ok {
		return fmt.Sprintf("%s:%d: %s at the end (a block or bracket not closed?)", file, max(lines, 1), strings.Join(strings.Fields(rest), " "))
	}
	return msg
}

// Nearest returns the command whose name is closest to word, when it is
// close enough to be a typo of it (at most two edits, and fewer than half
// the word), or "".
func Nearest(word string) string {
	if luaKeywords[word] {
		return ""
	}
	if _, ok := Lookup(word); ok || len(word) < 3 {
		return ""
	}
	best, bestD := "", 3
	for _, name := range append(commandNames(), "exit", "quit") {
		if d := editDistance(word, name); d < bestD && d*2 < len(word) {
			best, bestD = name, d
		}
	}
	return best
}

func commandNames() []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return names
}

// editDistance is the number of edits between a and b: a byte inserted,
// deleted or changed, or two neighbours swapped ("dail" is one edit from
// "dial"), the optimal string alignment distance.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// luaKeywords are never typos of a command.
var luaKeywords = map[string]bool{"and": true, "break": true, "do": true, "else": true, "elseif": true,
	"end": true, "false": true, "for": true, "function": true, "if": true, "in": true, "local": true,
	"nil": true, "not": true, "or": true, "repeat": true, "return": true, "then": true, "true": true,
	"until": true, "while": true}

// failExamples is, for each operation that returns nil, message, code on
// failure, a failure it typically meets, for its help.
var failExamples = map[string]string{
	"socket":      "socket: EMFILE: too many open files",
	"bind":        "bind 3 127.0.0.1:80: EADDRINUSE: address already in use",
	"listen":      "listen 3: EOPNOTSUPP: operation not supported",
	"accept":      "accept 3: ETIMEDOUT: timed out",
	"connect":     "connect 3 127.0.0.1:1: ECONNREFUSED: connection refused",
	"send":        "send 4: EPIPE: broken pipe",
	"recv":        "recv 4: ECONNRESET: connection reset by peer",
	"sendto":      "sendto 3 127.0.0.1:9000: EMSGSIZE: message too long",
	"recvfrom":    "recvfrom 3: ETIMEDOUT: timed out",
	"shutdown":    "shutdown 4: ENOTCONN: transport endpoint is not connected",
	"close":       "close 9: EBADF: bad file descriptor (not a socket of this session)",
	"getsockname": "getsockname 9: EBADF: bad file descriptor (not a socket of this session)",
	"getpeername": "getpeername 3: ENOTCONN: transport endpoint is not connected",
	"setopt":      "setopt 3: ENOPROTOOPT: protocol not available",
	"getopt":      "getopt 3: ENOPROTOOPT: protocol not available",
	"settimeout":  "settimeout 9: EBADF: bad file descriptor (not a socket of this session)",
	"nonblock":    "nonblock 9: EBADF: bad file descriptor (not a socket of this session)",
	"info":        "info 9: EBADF: bad file descriptor (not a socket of this session)",
	"poll":        "poll 9: EBADF: bad file descriptor (not a socket of this session)",
	"recvn":       "recvn 4: EOF: the stream ended after 3 of 8 bytes",
	"recvuntil":   "recvuntil 4: ETIMEDOUT: timed out",
	"recvline":    "recvline 4: ETIMEDOUT: timed out",
	"sendline":    "sendline 4: EPIPE: broken pipe",
	"sendframe":   "sendframe 4: EPIPE: broken pipe",
	"recvframe":   "recvframe 4: EOF: the stream ended inside a frame",
	"tls":         "tls 4: ETLS: certificate signed by unknown authority (ca=PATH verifies against a CA of your own; insecure skips verification)",
	"log":         "log /nonexistent/traffic.log: ENOENT: no such file or directory",
	"dial":        "dial 127.0.0.1:1: ECONNREFUSED: connection refused",
	"serve":       "serve 127.0.0.1:80: EADDRINUSE: address already in use",
	"sendfile":    "sendfile 4 /tmp/missing: ENOENT: no such file or directory",
	"recvall":     "recvall 4: EMSGSIZE: the stream goes on past 4194304 bytes (limit: maxrecv); they stay buffered for the next receive",
	"interact":    "interact 4: ECONNRESET: connection reset by peer",
	"wait":        "wait task 2: ETIMEDOUT: timed out",
	"kill":        "kill task 9: ESRCH: no such task (tasks lists them)",
	"socketpair":  "socketpair inet stream: EOPNOTSUPP: operation not supported",
	"sendfd":      "sendfd 3: EOPNOTSUPP: descriptors travel only over AF_UNIX sockets",
	"recvfd":      "recvfd 4: ENOMSG: data came without a descriptor (kept for the next receive)",
	"peercred":    "peercred 3: EOPNOTSUPP: peer credentials are kept only for AF_UNIX sockets",
	"workers":     "workers srv.lua: ENOENT: no such file or directory",
	"wire":        "wire: EPERM: needs root or CAP_NET_RAW",
	"tcp":         "tcp 3: EOPNOTSUPP: not a TCP socket",
	"lab":         "lab: EPERM: needs root (CAP_SYS_ADMIN) to make network namespaces",
	"host":        "host: EINVAL: no lab: build one first with lab{...} or --lab",
	"drop":        "drop c2d: EINVAL: expected a direction: a2b or b2a",
	"ladder":      "ladder s.htm: EACCES: permission denied",
	"record":      "record /nonexistent/rec.lua: ENOENT: no such file or directory",
	"replay":      "replay rec.lua: ENOENT: no such file or directory",
}
