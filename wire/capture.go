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
// with either port in ports — or an ICMP "destination unreachable" (ICMPv6
// type 1) about such a packet: the datagram it returns has the ports (its
// IPv4 header taken as the usual 20 bytes). The ports are put in scratch
// memory, M[0] the source and M[1] the destination, and looked up once for
// every kind. Past maxPorts every port passes.
func filter(ports map[uint16]bool) []bpf.Instruction {
	const (
		accept   = 0x40000
		outgoing = 4
	)
	p := program{
		bpf.LoadExtension{Num: bpf.ExtType},
		jumpIf{bpf.JumpNotEqual, outgoing, "no"},
		bpf.LoadAbsolute{Off: 12, Size: 2},
		jumpIf{bpf.JumpEqual, 0x86dd, "ipv6"},
		jumpIf{bpf.JumpNotEqual, 0x0800, "no"},
		// IPv4: no fragment offset; X is the header's length.
		bpf.LoadAbsolute{Off: 20, Size: 2},
		jumpIf{bpf.JumpBitsSet, 0x1fff, "no"},
		bpf.LoadMemShift{Off: 14},
		bpf.LoadAbsolute{Off: 23, Size: 1},
		jumpIf{bpf.JumpEqual, unix.IPPROTO_TCP, "ports4"},
		jumpIf{bpf.JumpEqual, unix.IPPROTO_UDP, "ports4"},
		jumpIf{bpf.JumpNotEqual, unix.IPPROTO_ICMP, "no"},
		bpf.LoadIndirect{Off: 14, Size: 1},
		jumpIf{bpf.JumpNotEqual, 3, "no"}, // destination unreachable
		bpf.LoadIndirect{Off: 14 + 8 + 20, Size: 2},
		bpf.StoreScratch{Src: bpf.RegA, N: 0},
		bpf.LoadIndirect{Off: 14 + 8 + 20 + 2, Size: 2},
		jump("lookup"),
		// The rejects sit after an unconditional jump, never just before
		// the lookup: the kernel's check that scratch memory is stored
		// before it is loaded also follows the fall-through of a ret.
		label("no"),
		bpf.RetConstant{Val: 0},
		label("ports4"),
		bpf.LoadIndirect{Off: 14, Size: 2},
		bpf.StoreScratch{Src: bpf.RegA, N: 0},
		bpf.LoadIndirect{Off: 16, Size: 2},
		jump("lookup"),
		label("ipv6"),
		bpf.LoadAbsolute{Off: 20, Size: 1},
		jumpIf{bpf.JumpEqual, unix.IPPROTO_TCP, "ports6"},
		jumpIf{bpf.JumpEqual, unix.IPPROTO_UDP, "ports6"},
		jumpIf{bpf.JumpNotEqual, unix.IPPROTO_ICMPV6, "no6"},
		bpf.LoadAbsolute{Off: 54, Size: 1},
		jumpIf{bpf.JumpNotEqual, 1, "no6"}, // destination unreachable
		bpf.LoadAbsolute{Off: 54 + 8 + 40, Size: 2},
		bpf.StoreScratch{Src: bpf.RegA, N: 0},
		bpf.LoadAbsolute{Off: 54 + 8 + 40 + 2, Size: 2},
		jump("lookup"),
		label("no6"),
		bpf.RetConstant{Val: 0},
		label("ports6"),
		bpf.LoadAbsolute{Off: 54, Size: 2},
		bpf.StoreScratch{Src: bpf.RegA, N: 0},
		bpf.LoadAbsolute{Off: 56, Size: 2},
		// the lookup: A holds the destination port
		label("lookup"),
		bpf.StoreScratch{Src: bpf.RegA, N: 1},
	}
	if len(ports) > maxPorts {
		return append(p.assemble(), bpf.RetConstant{Val: accept})
	}
	for _, n := range []int{0, 1} {
		p = append(p, bpf.LoadScratch{Dst: bpf.RegA, N: n})
		for port := range ports {
			p = append(p, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(port), SkipTrue: 1}, bpf.RetConstant{Val: accept})
		}
	}
	return append(p.assemble(), bpf.RetConstant{Val: 0})
}

// program is a filter with jumps to labels, so that adding an instruction
// does not mean counting every jump over it again: its items are
// bpf.Instructions, labels, jumpIfs (taken to the label when the test
// holds, else on) and jumps. BPF jumps only forward.
type program []any

type (
	label  string
	jump   string
	jumpIf struct {
		cond bpf.JumpTest
		val  uint32
		to   label
	}
)

// assemble resolves the labels; it panics on a jump backwards or too far
// for a conditional jump (255 instructions), which are mistakes in filter.
func (p program) assemble() []bpf.Instruction {
	at := map[label]int{}
	n := 0
	for _, it := range p {
		if l, ok := it.(label); ok {
			at[l] = n
		} else {
			n++
		}
	}
	skip := func(i int, to label) int {
		k, ok := at[to]
		if !ok || k <= i || k-i-1 > 255 {
			panic("wire: bad jump to " + string(to))
		}
		return k - i - 1
	}
	var out []bpf.Instruction
	for _, it := range p {
		switch x := it.(type) {
		case label:
		case jump:
			out = append(out, bpf.Jump{Skip: uint32(skip(len(out), label(x)))})
		case jumpIf:
			out = append(out, bpf.JumpIf{Cond: x.cond, Val: x.val, SkipTrue: uint8(skip(len(out), x.to))})
		case bpf.Instruction:
			out = append(out, x)
		}
	}
	return out
}
