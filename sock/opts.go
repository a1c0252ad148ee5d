package sock

import (
	"math"
	"slices"

	"golang.org/x/sys/unix"
)

// Option describes a socket option settable with SetOpt.
type Option struct {
	Name  string
	Bool  bool // on/off; otherwise an integer
	Doc   string
	level int
	opt   int
}

// options lists the socket options by name, for help and completion.
var options = []Option{
	{"reuseaddr", true, "SO_REUSEADDR: bind a port still in TIME_WAIT", unix.SOL_SOCKET, unix.SO_REUSEADDR},
	{"reuseport", true, "SO_REUSEPORT: several sockets bound to one port", unix.SOL_SOCKET, unix.SO_REUSEPORT},
	{"nodelay", true, "TCP_NODELAY: send small segments at once (no Nagle)", unix.IPPROTO_TCP, unix.TCP_NODELAY},
	{"keepalive", true, "SO_KEEPALIVE: probe an idle connection", unix.SOL_SOCKET, unix.SO_KEEPALIVE},
	{"broadcast", true, "SO_BROADCAST: allow sending to broadcast addresses", unix.SOL_SOCKET, unix.SO_BROADCAST},
	{"v6only", true, "IPV6_V6ONLY: an inet6 socket takes no IPv4", unix.IPPROTO_IPV6, unix.IPV6_V6ONLY},
	{"rcvbuf", false, "SO_RCVBUF: receive buffer size in bytes (the kernel doubles it)", unix.SOL_SOCKET, unix.SO_RCVBUF},
	{"sndbuf", false, "SO_SNDBUF: send buffer size in bytes (the kernel doubles it)", unix.SOL_SOCKET, unix.SO_SNDBUF},
	{"linger", false, "SO_LINGER: seconds close waits for unsent data; 0 resets (RST); -1 off", unix.SOL_SOCKET, unix.SO_LINGER},
	{"error", false, "SO_ERROR: the pending error as an errno number, 0 for none (read only; reading clears it)", unix.SOL_SOCKET, unix.SO_ERROR},
}

// LookupOption finds an option by name.
func LookupOption(name string) (Option, bool) {
	for _, o := range options {
		if o.Name == name {
			return o, true
		}
	}
	return Option{}, false
}

func optionNames() string {
	s := ""
	for i, o := range options {
		if i > 0 {
			s += ", "
		}
		s += o.Name
	}
	return s
}

// SetOpt sets the option name on fd. Booleans are 0 or 1; linger is
// seconds, or -1 for off.
func (t *Table) SetOpt(fd int, name string, v int) error {
	if _, err := t.Get("setopt", fd); err != nil {
		return err
	}
	o, ok := LookupOption(name)
	if !ok {
		return Invalid("setopt", fd, "unknown option %q: expected one of %s", name, optionNames())
	}
	if v > math.MaxInt32 || v < math.MinInt32 {
		return Invalid("setopt", fd, "bad value %d for %s: too large", v, name)
	}
	var err error
	switch {
	case o.opt == unix.SO_LINGER && o.level == unix.SOL_SOCKET:
		l := unix.Linger{}
		if v >= 0 {
			l.Onoff, l.Linger = 1, int32(v)
		}
		err = unix.SetsockoptLinger(fd, o.level, o.opt, &l)
	case o.Bool:
		if v != 0 {
			v = 1
		}
		err = unix.SetsockoptInt(fd, o.level, o.opt, v)
	default:
		if v < 0 {
			return Invalid("setopt", fd, "bad value %d for %s: expected a size in bytes", v, name)
		}
		err = unix.SetsockoptInt(fd, o.level, o.opt, v)
	}
	if err != nil {
		return &Error{Op: "setopt", FD: fd, Addr: name, Err: err}
	}
	return nil
}

// GetOpt reads the option name of fd.
func (t *Table) GetOpt(fd int, name string) (int, error) {
	if _, err := t.Get("getopt", fd); err != nil {
		return 0, err
	}
	o, ok := LookupOption(name)
	if !ok {
		return 0, Invalid("getopt", fd, "unknown option %q: expected one of %s", name, optionNames())
	}
	if o.opt == unix.SO_LINGER && o.level == unix.SOL_SOCKET {
		l, err := unix.GetsockoptLinger(fd, o.level, o.opt)
		if err != nil {
			return 0, &Error{Op: "getopt", FD: fd, Addr: name, Err: err}
		}
		if l.Onoff == 0 {
			return -1, nil
		}
		return int(l.Linger), nil
	}
	v, err := unix.GetsockoptInt(fd, o.level, o.opt)
	if err != nil {
		return 0, &Error{Op: "getopt", FD: fd, Addr: name, Err: err}
	}
	return v, nil
}

// Options returns the socket options SetOpt and GetOpt take, in the order
// help lists them.
func Options() []Option { return slices.Clone(options) }
