package sock

import (
	"golang.org/x/sys/unix"
)

// tcpStates are the kernel's TCP state names (include/net/tcp_states.h)
// without the TCP_ prefix.
var tcpStates = [...]string{
	1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
	6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
	11: "CLOSING", 12: "NEW_SYN_RECV",
}

// Info is a descriptor's row of the table.
type Info struct {
	FD       int
	Domain   string // inet, inet6, unix
	Type     string // stream, dgram
	State    string // the API state (Entry.State)
	TCPState string // the kernel's TCP state; "" for other sockets
	Local    string
	Remote   string
	Sent     int64
	Received int64
	// RecvQ is the bytes waiting in the kernel's receive queue (for a
	// listening TCP socket: the connections waiting to be accepted);
	// SendQ the bytes in the send queue not yet acknowledged.
	RecvQ, SendQ int
	// Buffered is the bytes read from the kernel but not yet returned.
	Buffered int
}

// Info returns fd's row, reading addresses and kernel state afresh.
func (t *Table) Info(fd int) (Info, error) {
	e, err := t.Get("info", fd)
	if err != nil {
		return Info{}, err
	}
	in := Info{
		FD: fd, Domain: DomainName(e.Domain), Type: TypeName(e.Type), State: e.State(),
		Sent: e.Sent, Received: e.Received, Buffered: len(e.pending),
	}
	if sa, err := unix.Getsockname(fd); err == nil {
		in.Local = FormatAddr(sa)
	}
	if sa, err := unix.Getpeername(fd); err == nil {
		in.Remote = FormatAddr(sa)
	} else if e.remote != nil && (e.connected || e.connecting) {
		in.Remote = FormatAddr(e.remote)
	}
	var ti *unix.TCPInfo
	if e.Domain != unix.AF_UNIX && e.Type == unix.SOCK_STREAM {
		if ti, err = unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil && int(ti.State) < len(tcpStates) {
			in.TCPState = tcpStates[ti.State]
		}
	}
	if ti != nil && in.TCPState == "LISTEN" {
		in.RecvQ, in.SendQ = int(ti.Unacked), int(ti.Sacked) // accept queue, backlog
		return in, nil
	}
	if n, err := unix.IoctlGetInt(fd, unix.SIOCINQ); err == nil {
		in.RecvQ = n
	}
	if n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ); err == nil {
		in.SendQ = n
	}
	return in, nil
}
