package wire

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"sockshell/record"
)

// Packet is one decoded TCP segment or UDP datagram.
type Packet struct {
	Time     time.Time
	Proto    string // "TCP" or "UDP"
	Src, Dst netip.AddrPort
	// TCP: the flags as one word (SYN, SYN-ACK, ACK, PSH-ACK, FIN-ACK,
	// RST, RST-ACK...), the sequence and acknowledgement numbers relative
	// to the connection's start, and the window as sent (unscaled).
	Flags    string
	Seq, Ack uint32
	HasAck   bool
	Window   uint16
	Payload  []byte
}

// Decoder decodes frames into packets, keeping each TCP connection's
// initial sequence numbers so that it shows them relative: 0 for the SYN.
// It is not safe for concurrent use.
type Decoder struct {
	eth     layers.Ethernet
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	payload gopacket.Payload
	parser  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
	isn     map[netip.AddrPort]map[netip.AddrPort]uint32 // by sender, receiver
}

// maxConns bounds the connections a Decoder remembers.
const maxConns = 4096

// NewDecoder returns a decoder of Ethernet frames.
func NewDecoder() *Decoder {
	d := &Decoder{isn: map[netip.AddrPort]map[netip.AddrPort]uint32{}}
	d.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &d.eth, &d.ip4, &d.ip6, &d.tcp, &d.udp, &d.payload)
	d.parser.IgnoreUnsupported = true
	return d
}

// Decode decodes a frame; ok is false for one that is not TCP or UDP
// over IP, or that a decoder could not read.
func (d *Decoder) Decode(f Frame) (p Packet, ok bool) {
	defer func() {
		if recover() != nil { // a decoder's bug must not end the session
			p, ok = Packet{}, false
		}
	}()
	d.decoded = d.decoded[:0]
	d.parser.DecodeLayers(f.Data, &d.decoded) // a truncated frame keeps what decoded
	var src, dst netip.Addr
	p.Time = f.Time
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			src, _ = netip.AddrFromSlice(d.ip4.SrcIP.To4())
			dst, _ = netip.AddrFromSlice(d.ip4.DstIP.To4())
		case layers.LayerTypeIPv6:
			src, _ = netip.AddrFromSlice(d.ip6.SrcIP)
			dst, _ = netip.AddrFromSlice(d.ip6.DstIP)
		case layers.LayerTypeTCP:
			p.Proto = "TCP"
			p.Src, p.Dst = netip.AddrPortFrom(src, uint16(d.tcp.SrcPort)), netip.AddrPortFrom(dst, uint16(d.tcp.DstPort))
			p.Flags, p.Window, p.HasAck = flags(&d.tcp), d.tcp.Window, d.tcp.ACK
			p.Seq, p.Ack = d.relative(p.Src, p.Dst, &d.tcp)
			p.Payload = append([]byte(nil), d.tcp.Payload...)
		case layers.LayerTypeUDP:
			p.Proto = "UDP"
			p.Src, p.Dst = netip.AddrPortFrom(src, uint16(d.udp.SrcPort)), netip.AddrPortFrom(dst, uint16(d.udp.DstPort))
			p.Payload = append([]byte(nil), d.udp.Payload...)
		}
	}
	return p, p.Proto != ""
}

// relative gives a segment's sequence and acknowledgement numbers relative
// to each side's initial sequence number: the one its SYN carried, or,
// for a connection seen first in the middle, the first one seen.
func (d *Decoder) relative(src, dst netip.AddrPort, t *layers.TCP) (seq, ack uint32) {
	if t.SYN && !t.ACK { // a new connection, maybe on an old pair of ports
		delete(d.isn[dst], src)
	}
	if len(d.isn) > maxConns {
		clear(d.isn)
	}
	mine, ok := d.isnOf(src, dst)
	if !ok || t.SYN {
		mine = t.Seq
		d.setISN(src, dst, mine)
	}
	theirs, ok := d.isnOf(dst, src)
	if !ok && t.ACK {
		theirs = t.Ack
		if t.RST || t.SYN {
			theirs-- // an answer to a SYN acknowledges its sequence number + 1
		}
		d.setISN(dst, src, theirs)
	}
	return t.Seq - mine, t.Ack - theirs
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
func flags(t *layers.TCP) string {
	var fs []string
	for _, f := range []struct {
		on   bool
		name string
	}{{t.SYN, "SYN"}, {t.FIN, "FIN"}, {t.RST, "RST"}, {t.PSH, "PSH"}, {t.URG, "URG"}, {t.ACK, "ACK"}, {t.ECE, "ECE"}, {t.CWR, "CWR"}} {
		if f.on {
			fs = append(fs, f.name)
		}
	}
	if len(fs) == 0 {
		return "none"
	}
	return strings.Join(fs, "-")
}

// shownBytes is how many of a payload's first bytes a line shows.
const shownBytes = 24

// Line is the packet as one line: its time since start, the two
// endpoints, the flags, sequence and acknowledgement numbers, window and
// payload length, and the payload's first bytes, quoted:
//
//	+0.000123 127.0.0.1:43048 > 127.0.0.1:9000 PSH-ACK seq 1 ack 1 win 512 len 5 "hello"
func (p Packet) Line(start time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%+.6f %s > %s", p.Time.Sub(start).Seconds(), p.Src, p.Dst)
	if p.Proto == "UDP" {
		fmt.Fprintf(&b, " UDP len %d", len(p.Payload))
	} else {
		fmt.Fprintf(&b, " %s seq %d", p.Flags, p.Seq)
		if p.HasAck {
			fmt.Fprintf(&b, " ack %d", p.Ack)
		}
		fmt.Fprintf(&b, " win %d", p.Window)
		if len(p.Payload) > 0 {
			fmt.Fprintf(&b, " len %d", len(p.Payload))
		}
	}
	if len(p.Payload) > 0 {
		shown := p.Payload[:min(len(p.Payload), shownBytes)]
		b.WriteString(" " + record.Quote(string(shown)))
		if len(shown) < len(p.Payload) {
			b.WriteString("...")
		}
	}
	return b.String()
}
