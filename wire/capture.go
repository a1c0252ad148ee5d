// Package wire captures the packets of a session's own sockets on the
// loopback interface and decodes them into lines a person reads, and into
// a pcap file tcpdump reads. It knows nothing of Lua or of the session: it
// is told which ports are the session's.
package wire

import (
	"errors"
	"net"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ErrPermission is what Open fails with where the process may not open a
// packet socket (it needs root or CAP_NET_RAW).
var ErrPermission = errors.New("needs root or CAP_NET_RAW")

// maxPorts is how many ports the kernel filter names one by one; past it
// the filter takes every TCP and UDP packet on loopback and Keep decides.
const maxPorts = 900

// Capture is an AF_PACKET socket bound to the loopback interface, with a
// kernel filter that passes the TCP and UDP packets to or from a set of
// ports, each packet once (the copy loopback sends, not the one it
// receives). It is not safe for concurrent use, except FD.
type Capture struct {
	fd    int
	ports map[uint16]bool
	buf   []byte
	oob   []byte
}

// Frame is one captured Ethernet frame (loopback's have a zero header).
type Frame struct {
	Time time.Time
	Data []byte // the caller's until the next Read
	Len  int    // the frame's length on the wire
}

// Open opens the packet socket on loopback, filtering out everything
// until SetPorts names the ports to see. If place is not nil it is given
// the socket's descriptor and returns the one to use instead (a copy at
// another number; place closes the original).
func Open(place func(fd int) int) (*Capture, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err == unix.EPERM || err == unix.EACCES {
		return nil, ErrPermission
	}
	if err != nil {
		return nil, err
	}
	if place != nil {
		fd = place(fd)
	}
	c := &Capture{fd: fd, buf: make([]byte, 65536+64), oob: make([]byte, 128)}
	fail := func(err error) (*Capture, error) { unix.Close(fd); return nil, err }
	if err := c.SetPorts(nil); err != nil { // nothing passes until the ports are known
		return fail(err)
	}
	lo, err := loopback()
	if err != nil {
		return fail(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: lo}); err != nil {
		return fail(err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fail(err)
	}
	// What was queued between socket(2) and the filter is anyone's.
	for {
		if _, _, err := unix.Recvfrom(fd, c.buf, unix.MSG_DONTWAIT); err != nil {
			break
		}
	}
	return c, nil
}

// loopback is the index of the loopback interface of this network
// namespace.
func loopback() (int, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return 0, err
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			return i.Index, nil
		}
	}
	return 0, errors.New("no loopback interface")
}

// FD is the packet socket, to wait on for readability.
func (c *Capture) FD() int { return c.fd }

// Ports reports whether the filter passes exactly ports.
func (c *Capture) Ports(ports map[uint16]bool) bool {
	if len(ports) != len(c.ports) || c.ports == nil {
		return false
	}
	for p := range ports {
		if !c.ports[p] {
			return false
		}
	}
	return true
}

// SetPorts replaces the kernel filter with one for ports. Packets already
// queued stay.
func (c *Capture) SetPorts(ports map[uint16]bool) error {
	prog, err := bpf.Assemble(filter(ports))
	if err != nil {
		return err
	}
	if err := attach(c.fd, prog); err != nil {
		return err
	}
	c.ports = make(map[uint16]bool, len(ports))
	for p := range ports {
		c.ports[p] = true
	}
	return nil
}

func attach(fd int, prog []bpf.RawInstruction) error {
	f := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		f[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	fp := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp)
}

// Read returns the next captured frame without waiting; ok is false when
// none is queued.
func (c *Capture) Read() (f Frame, ok bool, err error) {
	n, oobn, _, _, err := unix.Recvmsg(c.fd, c.buf, c.oob, unix.MSG_DONTWAIT|unix.MSG_TRUNC)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return Frame{}, false, nil
	case err != nil:
		return Frame{}, false, err
	}
	f = Frame{Time: time.Now(), Len: n, Data: c.buf[:min(n, len(c.buf))]}
	if msgs, err := unix.ParseSocketControlMessage(c.oob[:oobn]); err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
				ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				f.Time = time.Unix(ts.Unix())
			}
		}
	}
	return f, true, nil
}

// Close closes the packet socket.
func (c *Capture) Close() error { return unix.Close(c.fd) }

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// filter is the kernel filter: Ethernet frames that loopback sends
// (PACKET_OUTGOING: each packet appears once more as received), carrying
// IPv4 (not a later fragment) or IPv6 (no extension header), TCP or UDP,
// with either port in ports. The ports are put in scratch memory, M[0]
// the source and M[1] the destination, and looked up once for both
// families. Past maxPorts every port passes.
func filter(ports map[uint16]bool) []bpf.Instruction {
	const (
		accept   = 0x40000
		outgoing = 4
	)
	reject := bpf.RetConstant{Val: 0}
	var p []bpf.Instruction
	p = append(p,
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: outgoing, SkipTrue: 1},
		reject,
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x86dd, SkipTrue: 13},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipTrue: 1},
		reject,
		// IPv4: the protocol, no fragment offset, ports past the header.
		bpf.LoadAbsolute{Off: 23, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_TCP, SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_UDP, SkipTrue: 1},
		reject,
		bpf.LoadAbsolute{Off: 20, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 8},
		bpf.LoadMemShift{Off: 14},
		bpf.LoadIndirect{Off: 14, Size: 2},
		bpf.StoreScratch{Src: bpf.RegA, N: 0},
		bpf.LoadIndirect{Off: 16, Size: 2},
		bpf.Jump{Skip: 7}, // to the lookup
		// IPv6
		bpf.LoadAbsolute{Off: 20, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_TCP, SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_UDP, SkipTrue: 1},
		reject,
		bpf.LoadAbsolute{Off: 54, Size: 2},
		bpf.StoreScratch{Src: bpf.RegA, N: 0},
		bpf.LoadAbsolute{Off: 56, Size: 2},
		// the lookup: A holds the destination port
		bpf.StoreScratch{Src: bpf.RegA, N: 1},
	)
	if len(ports) > maxPorts {
		return append(p, bpf.RetConstant{Val: accept})
	}
	for _, n := range []int{0, 1} {
		p = append(p, bpf.LoadScratch{Dst: bpf.RegA, N: n})
		for port := range ports {
			p = append(p, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(port), SkipTrue: 1}, bpf.RetConstant{Val: accept})
		}
	}
	return append(p, reject)
}
