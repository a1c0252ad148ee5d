package sock

import (
	"golang.org/x/sys/unix"
)

// SocketPair makes two sockets connected to each other (socketpair(2)):
// domain "unix" (the only one Linux makes pairs of), typ "stream", "dgram"
// or "seqpacket". Both join the table, connected, with no names.
func (t *Table) SocketPair(domain, typ string) (int, int, error) {
	d, ok := domains[domain]
	if !ok {
		return -1, -1, Invalid("socketpair", -1, "bad domain %q: expected unix", domain)
	}
	ty, ok := types[typ]
	if !ok {
		return -1, -1, Invalid("socketpair", -1, "bad type %q: expected stream, dgram or seqpacket", typ)
	}
	fds, err := unix.Socketpair(d, ty|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, &Error{Op: "socketpair", FD: -1, Addr: domain + " " + typ, Err: err}
	}
	for _, fd := range fds {
		t.add(&Entry{FD: fd, Domain: d, Type: ty, connected: true})
	}
	return fds[0], fds[1], nil
}

// Adopt puts a socket this process got from elsewhere — inherited at exec,
// received over AF_UNIX — into the table, as the kernel describes it: its
// domain and type (SO_DOMAIN, SO_TYPE), listening (SO_ACCEPTCONN), bound
// (a name), connected (a peer, or a TCP state past the handshake). It makes
// fd non-blocking and close-on-exec, as every socket of the table is. A
// descriptor that is not a socket of a domain and type sockshell knows is
// refused; the caller still owns it then.
func (t *Table) Adopt(op string, fd int) (*Entry, error) {
	if fd < 0 {
		return nil, t.badFD(op, fd)
	}
	if _, err := t.Get(op, fd); err == nil {
		return nil, &Error{Op: op, FD: fd, Err: unix.EEXIST, Detail: "the descriptor is in the table already"}
	}
	d, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		if err == unix.ENOTSOCK {
			return nil, &Error{Op: op, FD: fd, Err: err, Detail: "the descriptor is not a socket"}
		}
		return nil, &Error{Op: op, FD: fd, Err: err}
	}
	ty, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, &Error{Op: op, FD: fd, Err: err}
	}
	if DomainName(d) == "?" {
		return nil, &Error{Op: op, FD: fd, Err: unix.EAFNOSUPPORT, Detail: "a socket of a domain sockshell does not handle (not inet, inet6 or unix)"}
	}
	if _, ok := typeNumbers[ty]; !ok {
		return nil, &Error{Op: op, FD: fd, Err: unix.ESOCKTNOSUPPORT, Detail: "a socket of a type sockshell does not handle (not stream, dgram or seqpacket)"}
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, &Error{Op: op, FD: fd, Err: err}
	}
	unix.CloseOnExec(fd)
	e := &Entry{FD: fd, Domain: d, Type: ty}
	if sa, err := unix.Getsockname(fd); err == nil && named(sa) {
		e.bound = true
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err == nil && v != 0 {
		e.listening = true
	}
	if sa, err := unix.Getpeername(fd); err == nil {
		e.connected, e.remote = true, sa
	} else if d != unix.AF_UNIX && ty == unix.SOCK_STREAM {
		// A TCP connection whose peer has gone (CLOSE after a reset)
		// has no peer name any more; one still in its handshake is
		// connecting.
		if ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil && int(ti.State) < len(tcpStates) {
			switch tcpStates[ti.State] {
			case "SYN_SENT", "SYN_RECV":
				e.connecting = true
			case "LISTEN", "CLOSE":
			default:
				e.connected = true
			}
		}
	}
	t.add(e)
	return e, nil
}

// typeNumbers is the set of socket types the table holds.
var typeNumbers = map[int]bool{unix.SOCK_STREAM: true, unix.SOCK_DGRAM: true, unix.SOCK_SEQPACKET: true}
