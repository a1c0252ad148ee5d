package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"sockshell/record"
)

// Packet is one decoded TCP segment, UDP datagram, or ICMP or ICMPv6
// destination unreachable about one.
type Packet struct {
	Time     time.Time
	Proto    string // "TCP", "UDP", or "ICMP" (a destination unreachable: Flags)
	Src, Dst netip.AddrPort
	// TCP: the flags as one word (SYN, SYN-ACK, ACK, PSH-ACK, FIN-ACK,
	// RST, RST-ACK...), the sequence and acknowledgement numbers relative
	// to the connection's start, and the window as sent (unscaled).
	Flags    string
	Seq, Ack uint32
	HasAck   bool
	Window   uint16
	Payload  []byte
	// Retrans marks a TCP segment whose sequence range was seen before:
	// the sender sent it again.
	Retrans bool
	// Link is what the lab's link did to the packet ("lost", "delay
	// 100.0ms"...): set by the caller for a packet the link carried.
	Link string
}

// Decoder decodes frames into packets, keeping each TCP connection's
// initial sequence numbers so that it shows them relative: 0 for the SYN.
// It is not safe for concurrent use.
//
// It reads Ethernet, IPv4, IPv6, TCP and UDP headers itself: gopacket's
// layers package would do it, but its init builds tables for every
// protocol it knows, 13 ms at every start of sockshell, wire or not.
type Decoder struct {
	isn  map[netip.AddrPort]map[netip.AddrPort]uint32 // by sender, receiver
	next map[flow]uint32                              // the sequence number after the highest seen
}

// flow is one direction of a connection.
type flow struct{ src, dst netip.AddrPort }

// maxConns bounds the connections a Decoder remembers.
const maxConns = 4096

// NewDecoder returns a decoder of Ethernet frames.
func NewDecoder() *Decoder {
	return &Decoder{isn: map[netip.AddrPort]map[netip.AddrPort]uint32{}, next: map[flow]uint32{}}
}

// The TCP flags, in the header's 14th byte.
const (
	flagFIN = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
	flagURG
	flagECE
	flagCWR
)

// Decode decodes a frame; ok is false for one that is not TCP or UDP over
// IPv4 (not a later fragment) or IPv6 (no extension header), or that is
// cut short.
func (d *Decoder) Decode(f Frame) (p Packet, ok bool) {
	b := f.Data
	if len(b) < 14 {
		return p, false
	}
	var version byte
	switch binary.BigEndian.Uint16(b[12:14]) {
	case 0x0800:
		version = 4
	case 0x86dd:
		version = 6
	}
	if version == 0 || len(b) == 14 || b[14]>>4 != version {
		return p, false
	}
	return d.DecodeIP(b[14:], f.Time)
}

// DecodeIP decodes an IP packet with no link-layer header before it (what
// a TUN device carries), taken at time t, as Decode does a frame.
func (d *Decoder) DecodeIP(ip []byte, t time.Time) (p Packet, ok bool) {
	if len(ip) < 1 {
		return p, false
	}
	var src, dst netip.Addr
	var proto byte
	var l4 []byte
	switch ip[0] >> 4 {
	case 4:
		if len(ip) < 20 {
			return p, false
		}
		ihl, total := int(ip[0]&0xf)*4, int(binary.BigEndian.Uint16(ip[2:4]))
		if ihl < 20 || total < ihl || total > len(ip) || binary.BigEndian.Uint16(ip[6:8])&0x1fff != 0 {
			return p, false
		}
		src, dst, proto = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20])), ip[9]
		l4 = ip[ihl:total]
	case 6:
		if len(ip) < 40 {
			return p, false
		}
		n := int(binary.BigEndian.Uint16(ip[4:6]))
		if 40+n > len(ip) {
			return p, false
		}
		src, dst, proto = netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40])), ip[6]
		l4 = ip[40 : 40+n]
	default:
		return p, false
	}
	p.Time = t
	switch proto {
	case 6: // TCP
		if len(l4) < 20 {
			return p, false
		}
		off := int(l4[12]>>4) * 4
		if off < 20 || off > len(l4) {
			return p, false
		}
		fl := l4[13]
		p.Proto = "TCP"
		p.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(l4[0:2]))
		p.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(l4[2:4]))
		p.Flags, p.HasAck, p.Window = flags(fl), fl&flagACK != 0, binary.BigEndian.Uint16(l4[14:16])
		seq := binary.BigEndian.Uint32(l4[4:8])
		p.Seq, p.Ack = d.relative(p.Src, p.Dst, fl, seq, binary.BigEndian.Uint32(l4[8:12]))
		p.Payload = append([]byte(nil), l4[off:]...)
		p.Retrans = d.again(flow{p.Src, p.Dst}, fl, seq, uint32(len(p.Payload)))
	case 17: // UDP
		if len(l4) < 8 {
			return p, false
		}
		n := int(binary.BigEndian.Uint16(l4[4:6]))
		if n < 8 || n > len(l4) {
			return p, false
		}
		p.Proto = "UDP"
		p.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(l4[0:2]))
		p.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(l4[2:4]))
		p.Payload = append([]byte(nil), l4[8:n]...)
	case 1, 58: // ICMP, ICMPv6
		return p, decodeUnreachable(&p, proto, l4, src, dst)
	default:
		return p, false
	}
	return p, true
}

// decodeUnreachable decodes an ICMP or ICMPv6 "destination unreachable"
// about a TCP segment or UDP datagram (the kernel's answer to a datagram
// sent to a closed port): as from the unreachable end, the returned
// packet's destination port at the message's source address, to the
// packet's sender, so that it sits on that socket's flow. Flags say what
// was unreachable and the packet's protocol ("port unreachable (UDP)").
func decodeUnreachable(p *Packet, proto byte, l4 []byte, src, dst netip.Addr) bool {
	if len(l4) < 8 {
		return false
	}
	typ, code, inner := l4[0], l4[1], l4[8:]
	var iproto byte
	var ports []byte
	switch {
	case proto == 1 && typ == 3 && len(inner) >= 20:
		ihl := int(inner[0]&0xf) * 4
		if ihl < 20 || len(inner) < ihl+4 {
			return false
		}
		iproto, ports = inner[9], inner[ihl:ihl+4]
	case proto == 58 && typ == 1 && len(inner) >= 44:
		iproto, ports = inner[6], inner[40:44]
	default:
		return false
	}
	what := map[byte]string{6: "TCP", 17: "UDP"}[iproto]
	if what == "" {
		return false
	}
	p.Proto = "ICMP"
	p.Flags = unreachable(proto, code) + " (" + what + ")"
	p.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(ports[2:4]))
	p.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(ports[0:2]))
	return true
}

// unreachable names an ICMP (proto 1) or ICMPv6 (58) unreachable code.
func unreachable(proto, code byte) string {
	names := map[byte]string{0: "net unreachable", 1: "host unreachable", 2: "protocol unreachable",
		3: "port unreachable", 4: "fragmentation needed", 13: "administratively prohibited"}
	if proto == 58 {
		names = map[byte]string{0: "no route", 1: "administratively prohibited", 3: "address unreachable",
			4: "port unreachable"}
	}
	if n, ok := names[code]; ok {
		return n
	}
	return fmt.Sprintf("unreachable (code %d)", code)
}

// relative gives a segment's sequence and acknowledgement numbers relative
// to each side's initial sequence number: the one its SYN carried, or,
// for a connection seen first in the middle, the first one seen.
func (d *Decoder) relative(src, dst netip.AddrPort, fl byte, seq, ack uint32) (uint32, uint32) {
	syn, hasAck := fl&flagSYN != 0, fl&flagACK != 0
	if syn && !hasAck { // a new connection, maybe on an old pair of ports
		delete(d.isn[dst], src)
	}
	if len(d.isn) > maxConns {
		clear(d.isn)
	}
	mine, ok := d.isnOf(src, dst)
	if !ok || syn {
		mine = seq
		d.setISN(src, dst, mine)
	}
	theirs, ok := d.isnOf(dst, src)
	if !ok && hasAck {
		theirs = ack
		if fl&(flagRST|flagSYN) != 0 {
			theirs-- // an answer to a SYN acknowledges its sequence number + 1
		}
		d.setISN(dst, src, theirs)
	}
	return seq - mine, ack - theirs
}

// again reports whether a segment covers sequence numbers its sender
// sent before (a retransmission), and notes how far the sender has got.
// A SYN counts one, a FIN one; a segment that carries neither nor data
// (an ACK, a window probe) is never one.
func (d *Decoder) again(f flow, fl byte, seq, n uint32) bool {
	if fl&flagSYN != 0 {
		n++
	}
	if fl&flagFIN != 0 {
		n++
	}
	next, seen := d.next[f]
	if fl&flagSYN != 0 && (!seen || next != seq+1) { // a new connection
		if len(d.next) > maxConns {
			clear(d.next)
		}
		d.next[f] = seq + 1
		return false
	}
	if n == 0 {
		return false
	}
	if !seen {
		d.next[f] = seq + n
		return false
	}
	if int32(seq+n-next) > 0 {
		d.next[f] = seq + n
	}
	return int32(seq-next) < 0
}

func (d *Decoder) isnOf(from, to netip.AddrPort) (uint32, bool) {
	v, ok := d.isn[from][to]
	return v, ok
}

func (d *Decoder) setISN(from, to netip.AddrPort, v uint32) {
	if d.isn[from] == nil {
		d.isn[from] = map[netip.AddrPort]uint32{}
	}
	d.isn[from][to] = v
}

// flags names a segment's flags as one word: SYN, FIN, RST, PSH, URG
// and ACK in that order, joined by "-" (SYN-ACK, PSH-ACK, FIN-ACK).
func flags(fl byte) string {
	var fs []string
	for _, f := range []struct {
		bit  byte
		name string
	}{{flagSYN, "SYN"}, {flagFIN, "FIN"}, {flagRST, "RST"}, {flagPSH, "PSH"}, {flagURG, "URG"}, {flagACK, "ACK"}, {flagECE, "ECE"}, {flagCWR, "CWR"}} {
		if fl&f.bit != 0 {
			fs = append(fs, f.name)
		}
	}
	if len(fs) == 0 {
		return "none"
	}
	return strings.Join(fs, "-")
}

// Summary is the packet's headers in words, as Line shows them: the
// flags, sequence and acknowledgement numbers, window and payload length
// of a TCP segment (PSH-ACK seq 1 ack 1 win 512 len 5), a UDP datagram's
// length (UDP len 5), what an ICMP message says (ICMP port unreachable
// (UDP)).
func (p Packet) Summary() string {
	if p.Proto == "ICMP" {
		return "ICMP " + p.Flags
	}
	if p.Proto == "UDP" {
		return fmt.Sprintf("UDP len %d", len(p.Payload))
	}
	s := fmt.Sprintf("%s seq %d", p.Flags, p.Seq)
	if p.HasAck {
		s += fmt.Sprintf(" ack %d", p.Ack)
	}
	s += fmt.Sprintf(" win %d", p.Window)
	if len(p.Payload) > 0 {
		s += fmt.Sprintf(" len %d", len(p.Payload))
	}
	return s
}

// shownBytes is how many of a payload's first bytes a line shows.
const shownBytes = 24

// Line is the packet as one line: its time since start, the two
// endpoints, the flags, sequence and acknowledgement numbers, window and
// payload length, and the payload's first bytes, quoted:
//
//	+0.000123 127.0.0.1:43048 > 127.0.0.1:9000 PSH-ACK seq 1 ack 1 win 512 len 5 "hello"
//
// then "retransmission" for a segment sent again, and what the lab's link
// did to it in brackets:
//
//	+0.412345 198.18.0.1:43048 > 198.18.0.2:9000 PSH-ACK seq 1 ack 1 win 502 len 5 "hello" retransmission [delay 50.0ms]
func (p Packet) Line(start time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%+.6f %s > %s %s", p.Time.Sub(start).Seconds(), p.Src, p.Dst, p.Summary())
	if len(p.Payload) > 0 {
		shown := p.Payload[:min(len(p.Payload), shownBytes)]
		b.WriteString(" " + record.Quote(string(shown)))
		if len(shown) < len(p.Payload) {
			b.WriteString("...")
		}
	}
	if p.Retrans {
		b.WriteString(" retransmission")
	}
	if p.Link != "" {
		b.WriteString(" [" + p.Link + "]")
	}
	return b.String()
}
