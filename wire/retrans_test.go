package wire

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// segment is an IPv4 TCP segment from 10.0.0.SRC:1000+SRC to the other
// end, with the flags, sequence number and payload given.
func segment(src byte, fl byte, seq uint32, payload string) []byte {
	b := make([]byte, 40+len(payload))
	b[0], b[8], b[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	copy(b[12:], []byte{10, 0, 0, src})
	copy(b[16:], []byte{10, 0, 0, 3 - src})
	binary.BigEndian.PutUint16(b[20:], 1000+uint16(src))
	binary.BigEndian.PutUint16(b[22:], 1003-uint16(src))
	binary.BigEndian.PutUint32(b[24:], seq)
	b[32], b[33] = 0x50, fl
	copy(b[40:], payload)
	return b
}

// TestRetransmissionMark: a segment is marked a retransmission when its
// sequence range was seen before: a SYN, data, a FIN sent again; never an
// ACK or a window probe, nor a new connection's SYN on the same ports.
func TestRetransmissionMark(t *testing.T) {
	d := NewDecoder()
	for i, c := range []struct {
		src     byte
		fl      byte
		seq     uint32
		payload string
		want    bool
	}{
		{1, flagSYN, 1000, "", false},
		{1, flagSYN, 1000, "", true}, // no SYN-ACK came
		{2, flagSYN | flagACK, 5000, "", false},
		{1, flagACK, 1001, "", false},
		{1, flagPSH | flagACK, 1001, "hello", false},
		{1, flagPSH | flagACK, 1006, "world", false},
		{1, flagPSH | flagACK, 1001, "hello", true},
		{1, flagPSH | flagACK, 1001, "helloworld", true}, // a bigger one, over both
		{1, flagACK, 1010, "", false},                    // a window probe: snd_una - 1, no data
		{2, flagACK, 5001, "", false},
		{1, flagFIN | flagACK, 1011, "", false},
		{1, flagFIN | flagACK, 1011, "", true},
		{1, flagSYN, 90000, "", false}, // a new connection on the same ports
		{1, flagPSH | flagACK, 90001, "x", false},
	} {
		p, ok := d.DecodeIP(segment(c.src, c.fl, c.seq, c.payload), time.Time{})
		if !ok {
			t.Fatalf("%d: not decoded", i)
		}
		if p.Retrans != c.want {
			t.Errorf("%d: %s: retransmission %v, want %v", i, p.Line(time.Time{}), p.Retrans, c.want)
		}
	}
}

// TestLineMarks: the line says retransmission, and what the link did.
func TestLineMarks(t *testing.T) {
	p := Packet{Proto: "TCP", Flags: "PSH-ACK", Seq: 1, Ack: 1, HasAck: true, Window: 502, Payload: []byte("hi"), Retrans: true, Link: "delay 50.0ms"}
	p.Src, p.Dst = mustAddrPort("198.18.0.1:40000"), mustAddrPort("198.18.0.2:9000")
	want := `+0.000000 198.18.0.1:40000 > 198.18.0.2:9000 PSH-ACK seq 1 ack 1 win 502 len 2 "hi" retransmission [delay 50.0ms]`
	if got := p.Line(time.Time{}); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func FuzzDecodeIP(f *testing.F) {
	f.Add(segment(1, flagSYN, 1, ""))
	f.Add(segment(2, flagPSH|flagACK, 7, "data"))
	f.Add([]byte{0x60})
	f.Add(unreachable4())
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, ok := d.DecodeIP(b, time.Time{}); ok {
			_ = p.Line(time.Time{})
		}
	})
}

// unreachable4 is an IPv4 ICMP port unreachable about a UDP datagram from
// 127.0.0.1:40000 to 127.0.0.1:9.
func unreachable4() []byte {
	ip := func(proto byte, n int) []byte {
		h := []byte{0x45, 0, 0, byte(20 + n), 0, 0, 0, 0, 64, proto, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1}
		return h
	}
	udp := []byte{0x9c, 0x40, 0, 9, 0, 8, 0, 0}
	inner := append(ip(17, len(udp)), udp...)
	icmp := append([]byte{3, 3, 0, 0, 0, 0, 0, 0}, inner...)
	return append(ip(1, len(icmp)), icmp...)
}

func TestDecodeUnreachable(t *testing.T) {
	p, ok := NewDecoder().DecodeIP(unreachable4(), time.Time{})
	if !ok || p.Proto != "ICMP" || p.Flags != "port unreachable (UDP)" || p.Src != mustAddrPort("127.0.0.1:9") || p.Dst != mustAddrPort("127.0.0.1:40000") {
		t.Fatalf("%v %+v", ok, p)
	}
	// Cut short anywhere: no panic, and decoded only while the returned
	// datagram's ports are there (20 + 8 + 20 + 4 bytes).
	for n := range len(unreachable4()) {
		b := unreachable4()[:n]
		if n >= 20 {
			b[3] = byte(n) // the outer length as cut
		}
		if _, ok := NewDecoder().DecodeIP(b, time.Time{}); ok != (n >= 52) {
			t.Errorf("a message cut to %d bytes: decoded %v", n, ok)
		}
	}
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
