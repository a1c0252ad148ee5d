package luaapi

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/internal/lowfd"
	"sockshell/sock"
)

// The traffic log writes every byte each descriptor sends and receives,
// when it goes, as socat -v and pwntools' DEBUG do. It is the table's tap
// (sock.SetTap): while it is on, every descriptor takes the generic path,
// so that the fast path pays nothing for it when it is off.

var logOps = []*Spec{
	{Name: "log", Params: params(p("on", KOnOff), opt("file", KName)), Results: results(KOK),
		Doc:     "on: write every byte each descriptor sends (>) and receives (<) as it goes, with the time, fd and length (text quoted, binary as a hexdump; TLS: the plaintext) to the output or FILE; off stops",
		Returns: "true", checked: true, run: runLog},
}

// trafficLog is where the log goes: a file, or the runtime's output (the
// shell puts it above the prompt) when file is nil.
type trafficLog struct {
	file *os.File
}

func runLog(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	on := checkBool(L, "log", 1)
	file := optString(L, "log", 2, "a file name", "")
	if !on {
		rt.stopLog()
		return rt.ret1(lua.LTrue), nil
	}
	if file != "" && rt.cfg.Sandbox {
		return failure(&sock.Error{Op: "log", FD: -1, Addr: file, Err: unix.EPERM, Detail: "file writes are refused in --sandbox"}), nil
	}
	return rt.okOr(rt.Log(file)), nil
}

// Log starts the traffic log: to file (appended to), or to the runtime's
// output when file is "" or "-". A log already on stops first.
func (rt *Runtime) Log(file string) error {
	rt.stopLog()
	l := &trafficLog{}
	if file != "" && file != "-" {
		fd, err := unix.Open(file, unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return &sock.Error{Op: "log", FD: -1, Addr: file, Err: err}
		}
		l.file = os.NewFile(uintptr(lowfd.Private(fd)), file)
	}
	rt.tlog = l
	rt.table.SetTap(rt.logTraffic)
	return nil
}

// stopLog ends the traffic log, if it is on.
func (rt *Runtime) stopLog() {
	if rt.tlog == nil {
		return
	}
	rt.table.SetTap(nil)
	if rt.tlog.file != nil {
		rt.tlog.file.Close()
	}
	rt.tlog = nil
}

func (rt *Runtime) logTraffic(fd int, sent bool, b []byte) {
	var w io.Writer = rt.out
	if rt.tlog.file != nil {
		w = rt.tlog.file
	}
	io.WriteString(w, trafficEntry(time.Now(), fd, sent, b))
}

// trafficEntry is one entry of the log: a line with the time, the
// descriptor, the direction (> sent, < received) and the length, then the
// bytes indented — text as quoted strings, a line each, which paste back
// into a command or Lua as the same bytes; anything else as a hexdump.
func trafficEntry(now time.Time, fd int, sent bool, b []byte) string {
	dir := "<"
	if sent {
		dir = ">"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s fd %d %s %d bytes\n", now.Format("15:04:05.000000"), fd, dir, len(b))
	if !isText(b) {
		for _, line := range strings.SplitAfter(strings.TrimSuffix(Hexdump(string(b)), "\n"), "\n") {
			sb.WriteString("  " + line)
		}
		sb.WriteByte('\n')
		return sb.String()
	}
	s := string(b)
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n') + 1
		if i == 0 {
			i = len(s)
		}
		sb.WriteString("  " + Quote(s[:i]) + "\n")
		s = s[i:]
	}
	return sb.String()
}

// isText reports whether b reads as text: printable ASCII, tabs and line
// ends.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < ' ' || c > '~') && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}
