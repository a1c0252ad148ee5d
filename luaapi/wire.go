package luaapi

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/internal/lowfd"
	"sockshell/lab"
	"sockshell/sock"
	"sockshell/wire"
)

var wireOps = []*Spec{
	{Name: "wire", Params: params(p("mode", KName)), Results: results(KOK),
		Doc: "MODE on: show the packets of the session's own sockets, each after the call that caused it (needs root or CAP_NET_RAW); FILE.pcap: on, and write them to that pcap file too; off: stop", Returns: "true",
		checked: true, run: runWire},
	{Name: "tcp", Params: params(opt("fd", KFD)), Results: results(KString),
		Doc: "the kernel's counters of FD's TCP connection (TCP_INFO; all TCP descriptors without FD): rtt/rttvar and rto in ms, cwnd, ssthresh, retransmits, segments in and out, bytes acked, delivery rate", Returns: "one line per descriptor",
		checked: true, run: runTCP},
	{Name: "packets", Results: results(KTable),
		Doc: "the packets the wire saw since the last call (the last 1000 at most), for a script to check", Returns: "a list of {time, src, dst, proto (TCP, UDP, ICMP), flags, seq, ack, win, len, data}, with retrans=true for a retransmitted segment and link= what the lab's link did to it",
		run: runPackets},
}

// wireState is the wire view while it is on: the packet socket, its
// decoder, where the packets go. Only the scheduler's goroutine reads the
// packet socket, so the lines come out in the kernel's order.
type wireState struct {
	c     *wire.Capture
	d     *wire.Decoder
	pcap  *wire.Pcap
	show  bool
	start time.Time
	// ports are the session's ports, each with when it was last seen on
	// a socket: a closed socket's port stays a minute, for the packets of
	// a teardown that goes on after close. pending is the destination of
	// a connect or sendto under way, whose local port is not known yet.
	ports   portSet
	pending map[uint16]bool
	// ends are the session's open inet sockets by local address, each
	// with the peers they are connected to (the zero AddrPort: any, for a
	// socket not connected): what tells a flow of another process that
	// shares one of the session's ports (the kernel gives one ephemeral
	// port to connections to different destinations) from the session's.
	ends map[netip.AddrPort][]netip.AddrPort
	log  []wire.Packet // for packets(), the last maxLog
}

// portLinger is how long a port stays in the filter after its socket.
const portLinger = time.Minute

// maxLog is how many packets packets() keeps.
const maxLog = 1000

// errWirePerm is the one line a session without the privilege gets.
var errWirePerm = &sock.Error{Op: "wire", FD: -1, Err: unix.EPERM, Detail: "needs root or CAP_NET_RAW"}

func runWire(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	arg := checkString(L, "wire", 1, "on, off or a pcap file name")
	switch arg {
	case "off", "false", "0":
		rt.stopWire()
		return rt.ret1(lua.LTrue), nil
	case "on", "true", "1":
		if rt.wire != nil { // on already (--pcap alone: now shown too)
			rt.wire.show = true
			return rt.ret1(lua.LTrue), nil
		}
		return rt.okOr(rt.StartWire(true, "")), nil
	}
	if !strings.HasSuffix(arg, ".pcap") || arg == ".pcap" {
		// A typo (wire of) must not create a file of that name.
		return failure(&sock.Error{Op: "wire", FD: -1, Addr: arg, Err: unix.EINVAL, Detail: "expected on, off or a file name ending in .pcap"}), nil
	}
	if rt.cfg.Sandbox {
		return failure(&sock.Error{Op: "wire", FD: -1, Addr: arg, Err: unix.EPERM, Detail: "file writes are refused in --sandbox"}), nil
	}
	return rt.okOr(rt.StartWire(true, arg)), nil
}

func runPackets(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	list := L.NewTable()
	ws := rt.wire
	if ws == nil {
		return vals(list), nil
	}
	rt.wireDrain(false)
	for _, p := range ws.log {
		t := L.NewTable()
		t.RawSetString("time", lua.LNumber(p.Time.Sub(ws.start).Seconds()))
		t.RawSetString("src", lua.LString(p.Src.String()))
		t.RawSetString("dst", lua.LString(p.Dst.String()))
		t.RawSetString("proto", lua.LString(p.Proto))
		if p.Proto == "ICMP" {
			t.RawSetString("flags", lua.LString(p.Flags)) // what was unreachable
		}
		if p.Proto == "TCP" {
			t.RawSetString("flags", lua.LString(p.Flags))
			t.RawSetString("seq", lua.LNumber(p.Seq))
			if p.HasAck {
				t.RawSetString("ack", lua.LNumber(p.Ack))
			}
			t.RawSetString("win", lua.LNumber(p.Window))
		}
		if p.Retrans {
			t.RawSetString("retrans", lua.LTrue)
		}
		if p.Link != "" {
			t.RawSetString("link", lua.LString(p.Link))
		}
		t.RawSetString("len", lua.LNumber(len(p.Payload)))
		t.RawSetString("data", lua.LString(p.Payload))
		list.Append(t)
	}
	ws.log = ws.log[:0]
	return vals(list), nil
}

// StartWire turns the wire view on: show prints each packet of the
// session's sockets to the session's output; pcapFile, if not "", gets
// them too. Turning it on again replaces what the last call chose.
func (rt *Runtime) StartWire(show bool, pcapFile string) error {
	rt.stopWire()
	c, err := wire.Open(lowfd.Private)
	if errors.Is(err, wire.ErrPermission) {
		return errWirePerm
	}
	if err != nil {
		return &sock.Error{Op: "wire", FD: -1, Err: errnoOf(err), Detail: err.Error()}
	}
	ws := &wireState{c: c, d: wire.NewDecoder(), show: show, start: time.Now(),
		ports: portSet{}, pending: map[uint16]bool{}, ends: map[netip.AddrPort][]netip.AddrPort{}}
	if pcapFile != "" {
		// The file, and Go's poller that opening it may start, go above
		// the session's descriptor numbers.
		lowfd.KeepLowFDs(func() { ws.pcap, err = wire.CreatePcap(pcapFile) })
		if err != nil {
			c.Close()
			return &sock.Error{Op: "wire", FD: -1, Addr: pcapFile, Err: errnoOf(err)}
		}
	}
	// The scheduler's epoll tells it when packets wait (level-triggered:
	// a drain that stops early is called again). No goroutine of its own
	// waits on the socket: with one processor, a goroutine that woke and
	// went back to sleep in poll(2) would hold it, stalling the
	// scheduler, until Go's monitor took it back.
	if err := unix.EpollCtl(rt.s.epfd, unix.EPOLL_CTL_ADD, c.FD(), &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c.FD())}); err != nil {
		c.Close()
		if ws.pcap != nil {
			ws.pcap.Close()
		}
		return &sock.Error{Op: "wire", FD: -1, Err: errnoOf(err)}
	}
	rt.wire = ws
	rt.wirePorts()
	if rt.lab != nil {
		rt.wireLab()
	}
	return nil
}

// wireLab has the wire show the lab's link too: the link keeps an event
// for each packet and makes its eventfd readable, which is in the
// scheduler's epoll beside the packet socket.
func (rt *Runtime) wireLab() {
	rt.lab.link.Watch(true)
	fd := rt.lab.link.NotifyFD()
	unix.EpollCtl(rt.s.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)})
}

// stopWire turns the wire view off: what the kernel captured so far is
// shown, the packet socket and the pcap are closed.
func (rt *Runtime) stopWire() {
	ws := rt.wire
	if ws == nil {
		return
	}
	rt.wireDrain(false)
	rt.wire = nil
	if rt.lab != nil {
		rt.lab.link.Watch(false)
		unix.EpollCtl(rt.s.epfd, unix.EPOLL_CTL_DEL, rt.lab.link.NotifyFD(), nil)
	}
	unix.EpollCtl(rt.s.epfd, unix.EPOLL_CTL_DEL, ws.c.FD(), nil)
	ws.c.Close()
	if ws.pcap != nil {
		if err := ws.pcap.Close(); err != nil {
			fmt.Fprintf(rt.err, "wire: %v\n", err)
		}
	}
}

// wireReady is the scheduler's: fd is ready to be read. It reports
// whether fd is the wire's packet socket or the lab's link, whose packets
// it has shown.
func (rt *Runtime) wireReady(fd int) bool {
	if rt.wire == nil || fd != rt.wire.c.FD() && fd != rt.labNotify() {
		return false
	}
	rt.wireDrain(false)
	return true
}

// wireBefore is called before each call while the wire is on: a connect or
// sendto to a port not yet in the filter adds it, so that the first packet
// is seen although the local port is not known until the call.
func (rt *Runtime) wireBefore(L *lua.LState, s *Spec) {
	arg := 0
	switch s.Name {
	case "connect":
		arg = 2
	case "sendto":
		arg = 3
	default:
		return
	}
	addr, ok := L.Get(arg).(lua.LString)
	if !ok {
		return
	}
	i := strings.LastIndexByte(string(addr), ':')
	port, err := strconv.ParseUint(string(addr[i+1:]), 10, 16)
	if i < 0 || err != nil || port == 0 {
		return
	}
	if !rt.wire.pending[uint16(port)] {
		rt.wire.pending[uint16(port)] = true
		rt.wirePorts()
	}
}

// makesPackets are the calls after which the wire waits a moment for the
// packets they caused (the peer's answers on loopback) before going on.
var makesPackets = map[string]bool{"connect": true, "accept": true, "send": true, "sendto": true, "recv": true,
	"recvfrom": true, "shutdown": true, "close": true, "setopt": true, "sendline": true, "sendframe": true,
	"recvn": true, "recvline": true, "recvuntil": true, "recvframe": true, "sendfd": true, "recvfd": true}

// wireAfter is called after each call while the wire is on: it shows the
// packets the kernel captured (after a call that makes packets, waiting
// up to a millisecond at a time for more), then updates the filter to the
// session's ports.
func (rt *Runtime) wireAfter(s *Spec) {
	if rt.wire == nil {
		return
	}
	rt.wireDrain(makesPackets[s.Name])
	if rt.wire != nil {
		clear(rt.wire.pending)
		rt.wirePorts()
	}
}

// wireDrain shows every packet queued on the packet socket; linger waits
// a millisecond more each time some came (an answer may be on its way
// through loopback), for a few rounds at most.
func (rt *Runtime) wireDrain(linger bool) {
	ws := rt.wire
	for round := 0; round < 20; round++ {
		n := 0
		for {
			f, ok, err := ws.c.Read()
			if err != nil {
				fmt.Fprintf(rt.err, "wire: %v\n", err)
				break
			}
			if !ok {
				break
			}
			p, ok := ws.d.Decode(f)
			if !ok || !ws.ports.has(p) && !ws.pending[p.Dst.Port()] && !ws.pending[p.Src.Port()] {
				continue // past maxPorts the kernel passes every port
			}
			if ws.foreign(p) {
				continue
			}
			n++
			rt.wireShow(p, f)
		}
		n += rt.wireLinkDrain()
		if n > 0 && ws.pcap != nil {
			ws.pcap.Flush()
		}
		if !linger || n == 0 {
			return
		}
		pfd := []unix.PollFd{{Fd: int32(ws.c.FD()), Events: unix.POLLIN}}
		if k, _ := unix.Poll(pfd, 1); k <= 0 {
			return
		}
	}
}

// wireShow shows one packet, writes it to the pcap and keeps it for
// packets().
func (rt *Runtime) wireShow(p wire.Packet, f wire.Frame) {
	ws := rt.wire
	if ws.pcap != nil {
		if err := ws.pcap.Write(f); err != nil {
			fmt.Fprintf(rt.err, "wire: %v\n", err)
		}
	}
	if ws.show {
		fmt.Fprintln(rt.out, "wire "+p.Line(ws.start))
	}
	if len(ws.log) == maxLog {
		ws.log = append(ws.log[:0], ws.log[1:]...)
	}
	ws.log = append(ws.log, p)
	rt.ladderPacket(p)
}

// wireLinkDrain shows the packets the lab's link carried since the last
// time, each marked with what the link did to it, and returns how many.
// In the pcap each gets an Ethernet header, as loopback's frames have.
func (rt *Runtime) wireLinkDrain() int {
	if rt.lab == nil {
		return 0
	}
	evs, missed := rt.lab.link.Events()
	if missed > 0 {
		fmt.Fprintf(rt.err, "wire: %d packets of the lab's link not shown (they came faster than they were shown)\n", missed)
	}
	// The two directions' goroutines each add theirs: in time order.
	slices.SortStableFunc(evs, func(a, b lab.Event) int { return a.Time.Compare(b.Time) })
	n := 0
	for _, e := range evs {
		p, ok := rt.wire.d.DecodeIP(e.Packet, e.Time)
		if !ok {
			continue
		}
		p.Link = e.What()
		frame := make([]byte, 14+len(e.Packet))
		frame[12], frame[13] = 0x08, 0x00
		if e.Packet[0]>>4 == 6 {
			frame[12], frame[13] = 0x86, 0xdd
		}
		copy(frame[14:], e.Packet)
		rt.wireShow(p, wire.Frame{Time: e.Time, Data: frame, Len: len(frame)})
		n++
	}
	return n
}

// wirePorts sets the kernel filter to the session's ports: every inet
// socket's local port, the ports of sockets closed within portLinger and
// the pending destinations.
func (rt *Runtime) wirePorts() {
	ws := rt.wire
	now := time.Now()
	clear(ws.ends)
	for _, fd := range rt.table.FDs() {
		sa, _ := unix.Getsockname(fd)
		local, ok := inetAddr(sa)
		if !ok || local.Port() == 0 {
			continue
		}
		ws.ports[local.Port()] = now
		pa, _ := unix.Getpeername(fd)
		peer, _ := inetAddr(pa) // the zero AddrPort when not connected
		ws.ends[local] = append(ws.ends[local], peer)
	}
	want := make(map[uint16]bool, len(ws.ports)+len(ws.pending))
	for port, seen := range ws.ports {
		if now.Sub(seen) > portLinger {
			delete(ws.ports, port)
			continue
		}
		want[port] = true
	}
	for port := range ws.pending {
		want[port] = true
	}
	if !ws.c.Ports(want) {
		if err := ws.c.SetPorts(want); err != nil {
			fmt.Fprintf(rt.err, "wire: %v\n", err)
		}
	}
}

type portSet map[uint16]time.Time

// inetAddr is an inet or inet6 socket address as an AddrPort (an IPv4
// address mapped into IPv6 as IPv4, as packets carry it).
func inetAddr(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port)), true
	}
	return netip.AddrPort{}, false
}

// foreign reports whether p belongs to another process's flow: one of its
// ends is the local address of a session socket, and no session socket
// there takes the packet's other end (connected to another peer). A
// packet whose ends are not open sockets of the session (a teardown after
// close, a connect under way) is not foreign.
func (ws *wireState) foreign(p wire.Packet) bool {
	known := false
	for _, e := range [...][2]netip.AddrPort{{p.Src, p.Dst}, {p.Dst, p.Src}} {
		local, other := e[0], e[1]
		for _, at := range [...]netip.AddrPort{local, netip.AddrPortFrom(unspecified(local.Addr()), local.Port())} {
			peers, ok := ws.ends[at]
			if !ok {
				continue
			}
			known = true
			for _, peer := range peers {
				if !peer.IsValid() || peer == other {
					return false
				}
			}
		}
	}
	return known
}

// unspecified is the wildcard address of a's family (0.0.0.0 or ::).
func unspecified(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

func (ps portSet) has(p wire.Packet) bool {
	_, src := ps[p.Src.Port()]
	_, dst := ps[p.Dst.Port()]
	return src || dst
}

// WireOn reports whether the wire view is on.
func (rt *Runtime) WireOn() bool { return rt.wire != nil }

func runTCP(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	fds := rt.table.FDs()
	if L.Get(1) != lua.LNil {
		fd := checkFD(L, "tcp", 1)
		if _, err := rt.table.Get("tcp", fd); err != nil {
			return failure(err), nil
		}
		fds = []int{fd}
	}
	var lines []string
	for _, fd := range fds {
		in, err := rt.table.Info(fd)
		if err != nil {
			return failure(err), nil
		}
		if in.TCPState == "" {
			if len(fds) == 1 && L.Get(1) != lua.LNil {
				return failure(&sock.Error{Op: "tcp", FD: fd, Err: unix.EOPNOTSUPP, Detail: "not a TCP socket"}), nil
			}
			continue
		}
		lines = append(lines, tcpLine(in))
	}
	if len(lines) == 0 {
		lines = append(lines, "(no TCP descriptors)")
	}
	return rt.ret1(lua.LString(strings.Join(lines, "\n"))), nil
}

// tcpLine is a TCP descriptor's counters in ss -ti's words and units.
func tcpLine(in sock.Info) string {
	c := &in.TCP
	ms := func(us uint32) string { return strconv.FormatFloat(float64(us)/1000, 'f', 3, 64) }
	var b strings.Builder
	fmt.Fprintf(&b, "fd %d %s rtt:%s/%s rto:%s cwnd:%d", in.FD, in.TCPState, ms(c.RTT), ms(c.RTTVar), strings.TrimSuffix(strings.TrimRight(ms(c.RTO), "0"), "."), c.Cwnd)
	if c.Ssthresh < 0xffff { // as ss: none yet is 0x7fffffff
		fmt.Fprintf(&b, " ssthresh:%d", c.Ssthresh)
	}
	fmt.Fprintf(&b, " retrans:%d/%d segs_in:%d segs_out:%d bytes_acked:%d delivery_rate:%dbps",
		c.Retransmits, c.TotalRetrans, c.SegsIn, c.SegsOut, c.BytesAcked, c.DeliveryRate*8)
	return b.String()
}

// tcpFields adds a TCP socket's counters to its info table.
func tcpFields(t *lua.LTable, in *sock.Info) {
	if in.TCPState == "" {
		return
	}
	c := &in.TCP
	for _, f := range []struct {
		name string
		v    float64
	}{{"rtt", float64(c.RTT)}, {"rttvar", float64(c.RTTVar)}, {"rto", float64(c.RTO)}, {"snd_cwnd", float64(c.Cwnd)},
		{"ssthresh", float64(c.Ssthresh)}, {"retransmits", float64(c.Retransmits)}, {"total_retrans", float64(c.TotalRetrans)},
		{"segs_in", float64(c.SegsIn)}, {"segs_out", float64(c.SegsOut)}, {"bytes_acked", float64(c.BytesAcked)},
		{"delivery_rate", float64(c.DeliveryRate)}} {
		t.RawSetString(f.name, lua.LNumber(f.v))
	}
}
