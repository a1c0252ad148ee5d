package wire

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// capture opens a Capture or skips the test where the process may not.
func capture(t *testing.T) *Capture {
	t.Helper()
	c, err := Open(nil)
	if err == ErrPermission {
		t.Skip("wire: needs root or CAP_NET_RAW")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// drain reads what the kernel captured until nothing more comes for 20 ms.
func drain(t *testing.T, c *Capture, d *Decoder, each func(Frame)) []Packet {
	t.Helper()
	var ps []Packet
	quiet := time.Now()
	for time.Since(quiet) < 20*time.Millisecond {
		f, ok, err := c.Read()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			time.Sleep(time.Millisecond)
			continue
		}
		quiet = time.Now()
		if each != nil {
			each(f)
		}
		if p, ok := d.Decode(f); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

func port(a net.Addr) uint16 { return uint16(a.(*net.TCPAddr).Port) }

// TestConnectSendClose: a connection's packets, each once, in order, with
// relative numbers; and the same packets read back from a pcap by tcpdump.
func TestConnectSendClose(t *testing.T) {
	c := capture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := c.SetPorts(map[uint16]bool{port(ln.Addr()): true}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pc, err := CreatePcap(filepath.Join(dir, "w.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	cl.Write([]byte("hello"))
	buf := make([]byte, 10)
	sv.Read(buf)
	cl.Close()
	sv.Read(buf)
	sv.Close()
	d := NewDecoder()
	ps := drain(t, c, d, func(f Frame) { pc.Write(f) })
	if err := pc.Close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	start := time.Time{}
	if len(ps) > 0 {
		start = ps[0].Time
	}
	for _, p := range ps {
		t.Log(p.Line(start))
		got = append(got, p.Flags)
	}
	want := "SYN SYN-ACK ACK PSH-ACK ACK FIN-ACK"
	if s := strings.Join(got, " "); !strings.HasPrefix(s, want) {
		t.Fatalf("flags %q, want them to start %q", s, want)
	}
	if ps[0].Seq != 0 || ps[1].Seq != 0 || ps[1].Ack != 1 || ps[2].Seq != 1 || ps[2].Ack != 1 || len(ps[3].Payload) != 5 {
		t.Errorf("relative numbers: %v", ps[:4])
	}
	if !strings.Contains(ps[3].Line(start), `len 5 "hello"`) {
		t.Errorf("line %q", ps[3].Line(start))
	}
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("no tcpdump to read the pcap back")
	}
	out, err := exec.Command(tcpdump, "-nn", "-r", filepath.Join(dir, "w.pcap")).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump: %v\n%s", err, out)
	}
	lines := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, " IP 127.0.0.1.") {
			lines++
		}
	}
	if lines != len(ps) {
		t.Errorf("tcpdump read %d packets, the wire showed %d:\n%s", lines, len(ps), out)
	}
	for _, f := range []string{"Flags [S]", "Flags [S.]", "Flags [P.]", "Flags [F.]", "length 5"} {
		if !strings.Contains(string(out), f) {
			t.Errorf("tcpdump's reading lacks %q:\n%s", f, out)
		}
	}
}

// FuzzDecode: no frame makes Decode panic, and a decoded packet has a line.
func FuzzDecode(f *testing.F) {
	eth := make([]byte, 14)
	ipv4 := append(append([]byte(nil), eth...), 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
		0x9c, 0x40, 0x23, 0x28, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0)
	ipv4[12], ipv4[13] = 0x08, 0x00
	f.Add(ipv4)
	f.Add(eth)
	f.Add([]byte{})
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, ok := d.Decode(Frame{Data: b, Len: len(b)}); ok {
			_ = p.Line(time.Time{})
		}
	})
}

// TestFilterKeepsToItsPorts: the kernel filter passes the packets of the
// ports it was given, IPv4 and IPv6, TCP and UDP, and none of others.
func TestFilterKeepsToItsPorts(t *testing.T) {
	c := capture(t)
	var lns []net.Listener
	for _, a := range []string{"127.0.0.1:0", "[::1]:0", "127.0.0.1:0"} {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Skipf("listen %s: %v", a, err)
		}
		defer ln.Close()
		lns = append(lns, ln)
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	udpPort := uint16(udp.LocalAddr().(*net.UDPAddr).Port)
	mine := map[uint16]bool{port(lns[0].Addr()): true, port(lns[1].Addr()): true, udpPort: true}
	if err := c.SetPorts(mine); err != nil {
		t.Fatal(err)
	}
	for _, ln := range lns {
		cl, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		cl.Write([]byte("x"))
		cl.Close()
	}
	u, err := net.Dial("udp", udp.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("datagram"))
	u.Close()
	seen := map[uint16]int{}
	for _, p := range drain(t, c, NewDecoder(), nil) {
		switch {
		case mine[p.Dst.Port()]:
			seen[p.Dst.Port()]++
		case mine[p.Src.Port()]:
			seen[p.Src.Port()]++
		default:
			t.Errorf("a packet of other ports: %s", p.Line(time.Time{}))
		}
		if p.Proto == "UDP" && string(p.Payload) != "datagram" {
			t.Errorf("the datagram: %q", p.Payload)
		}
	}
	for port := range mine {
		if seen[port] == 0 {
			t.Errorf("no packet of port %d", port)
		}
	}
	if seen[udpPort] != 1 {
		t.Errorf("%d datagrams seen, want 1 (each packet once)", seen[udpPort])
	}
}

// TestPortUnreachable: a datagram to a closed port, over IPv4 and IPv6:
// the kernel's ICMP answer passes the filter (it is about the session's
// port) and reads as from the closed port to the sender.
func TestPortUnreachable(t *testing.T) {
	c := capture(t)
	for _, network := range []string{"udp4", "udp6"} {
		host := map[string]string{"udp4": "127.0.0.1", "udp6": "::1"}[network]
		closed, err := net.ListenPacket(network, net.JoinHostPort(host, "0"))
		if err != nil {
			t.Skipf("%s: %v", network, err)
		}
		to := closed.LocalAddr().(*net.UDPAddr)
		closed.Close()
		u, err := net.ListenPacket(network, net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		from := uint16(u.LocalAddr().(*net.UDPAddr).Port)
		if err := c.SetPorts(map[uint16]bool{from: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := u.WriteTo([]byte("anyone?"), to); err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(t.TempDir(), "u.pcap")
		pc, err := CreatePcap(name)
		if err != nil {
			t.Fatal(err)
		}
		var icmp []Packet
		for _, p := range drain(t, c, NewDecoder(), func(f Frame) { pc.Write(f) }) {
			if p.Proto == "ICMP" {
				icmp = append(icmp, p)
			}
		}
		u.Close()
		if len(icmp) != 1 {
			t.Fatalf("%s: %d ICMP messages, want 1", network, len(icmp))
		}
		p := icmp[0]
		if p.Flags != "port unreachable (UDP)" || p.Src.Port() != uint16(to.Port) || p.Dst.Port() != from {
			t.Errorf("%s: %s", network, p.Line(time.Time{}))
		}
		if want := "ICMP port unreachable (UDP)"; p.Summary() != want {
			t.Errorf("%s: summary %q, want %q", network, p.Summary(), want)
		}
		t.Log(p.Line(time.Time{}))
		// tcpdump reads the same message from the pcap.
		if err := pc.Close(); err != nil {
			t.Fatal(err)
		}
		tcpdump, err := exec.LookPath("tcpdump")
		if err != nil {
			continue
		}
		out, err := exec.Command(tcpdump, "-nn", "-r", name).CombinedOutput()
		if err != nil {
			t.Fatalf("tcpdump: %v\n%s", err, out)
		}
		want := map[string]string{"udp4": "udp port %d unreachable", "udp6": "unreachable port, ::1 udp port %d"}[network]
		if want = fmt.Sprintf(want, to.Port); !strings.Contains(string(out), want) {
			t.Errorf("%s: tcpdump's reading lacks %q:\n%s", network, want, out)
		}
	}
}
