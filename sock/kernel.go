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
	Host     string // the lab host the socket was made on; "" for the session's own
	// RecvQ and SendQ are the kernel's queue figures, as ss shows them
	// except where noted. A listening socket: the connections waiting to
	// be accepted, and the backlog. TCP: bytes not yet read (SIOCINQ;
	// ss counts a received FIN as one more until it is read), and bytes
	// sent but not yet acknowledged (SIOCOUTQ). UDP: the size of the next
	// datagram (SIOCINQ; ss shows the memory all of them take), and the
	// memory of datagrams not yet sent. AF_UNIX: bytes not yet read
	// (stream) or the next datagram's size (dgram), and the memory the
	// socket's sent data holds until the peer reads it (SIOCOUTQ: buffer
	// memory, not a byte count).
	RecvQ, SendQ int
	// Buffered is the bytes read from the kernel but not yet returned.
	Buffered int
	// The TLS of a descriptor that speaks it: the version ("TLS 1.3"),
	// the cipher suite, the application protocol ALPN chose ("" for
	// none) and the subject of the peer's certificate ("" without one).
	TLSVersion, TLSCipher, TLSALPN, TLSPeer string
	// TCP is the kernel's counters of a TCP socket (TCPState is not "");
	// zero for others.
	TCP TCPCounters
}

// TCPCounters are the figures of TCP_INFO that show a connection's
// feedback loop: how long a round trip takes, how much may be in flight,
// what was lost and resent.
type TCPCounters struct {
	RTT, RTTVar, RTO uint32 // microseconds: smoothed round-trip time, its variation, the retransmission timeout
	Cwnd, Ssthresh   uint32 // segments: the congestion window, the slow-start threshold (0x7fffffff: none yet)
	Retransmits      uint8  // retransmissions of the segment now unacknowledged
	TotalRetrans     uint32 // segments retransmitted over the connection's life
	SegsIn, SegsOut  uint32 // segments received and sent
	BytesAcked       uint64 // bytes the peer acknowledged
	DeliveryRate     uint64 // bytes per second, as the kernel last measured delivery
}

// Info returns fd's row, reading addresses and kernel state afresh. Where
// the kernel moved the socket on its own, the API state follows: a
// handshake completed since a connect that did not wait for it shows
// connected, and a socket the kernel bound (a UDP socket's first sendto)
// bound.
func (t *Table) Info(fd int) (Info, error) {
	e, err := t.Get("info", fd)
	if err != nil {
		return Info{}, err
	}
	in := Info{
		FD: fd, Domain: DomainName(e.Domain), Type: TypeName(e.Type),
		Sent: e.Sent, Received: e.Received, Buffered: e.Buffered(), Host: e.Host,
	}
	if e.layer != nil && e.layer.tls != nil {
		e.layer.tls.state(&in)
	}
	if sa, err := unix.Getsockname(fd); err == nil {
		in.Local = FormatAddr(sa)
		if !e.bound && named(sa) {
			e.bound = true
		}
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
			in.TCP = TCPCounters{RTT: ti.Rtt, RTTVar: ti.Rttvar, RTO: ti.Rto, Cwnd: ti.Snd_cwnd, Ssthresh: ti.Snd_ssthresh,
				Retransmits: ti.Retransmits, TotalRetrans: ti.Total_retrans, SegsIn: ti.Segs_in, SegsOut: ti.Segs_out,
				BytesAcked: ti.Bytes_acked, DeliveryRate: ti.Delivery_rate}
		}
	}
	if e.connecting && handshakeDone(in.TCPState) {
		e.connecting, e.connected = false, true
	}
	in.State = e.State()
	switch {
	case ti != nil && in.TCPState == "LISTEN":
		in.RecvQ, in.SendQ = int(ti.Unacked), int(ti.Sacked) // accept queue, backlog
		return in, nil
	case e.Domain == unix.AF_UNIX && e.listening:
		in.RecvQ, in.SendQ, _ = unixQueues(fd) // accept queue, backlog
		return in, nil
	}
	if n, err := unix.IoctlGetInt(fd, unix.SIOCINQ); err == nil {
		in.RecvQ = n
	}
	if n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ); err == nil && in.TCPState != "CLOSE" {
		// (A TCP socket in CLOSE has no send queue: the kernel purged it.
		// SIOCOUTQ's difference of sequence numbers is stale there — 3
		// after a refused connect — and ss does not list the socket.)
		in.SendQ = n
	}
	return in, nil
}

// handshakeDone reports whether a TCP socket in the kernel's state has
// finished its handshake (and maybe more since).
func handshakeDone(state string) bool {
	switch state {
	case "", "SYN_SENT", "SYN_RECV", "CLOSE":
		// CLOSE: the connect failed; the socket stays connecting, as the
		// kernel's own socket state does, until connect reports why.
		return false
	}
	return true
}

// named reports whether a local address is a name: a port other than 0,
// an AF_UNIX path or abstract name.
func named(sa unix.Sockaddr) bool {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port != 0
	case *unix.SockaddrInet6:
		return a.Port != 0
	case *unix.SockaddrUnix:
		return a.Name != "" && a.Name != "@" // "@": x/sys/unix's name for an unnamed socket
	}
	return false
}
