package luaapi

import (
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/wire"
)

// needWire skips a test where the process may not capture packets.
func needWire(t *testing.T) {
	t.Helper()
	c, err := wire.Open(nil)
	if err != nil {
		t.Skipf("wire: %v", err)
	}
	c.Close()
}

// flagsOf is the flags of the wire lines in out, one word each.
func flagsOf(out string) []string {
	var fs []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[0] == "wire" {
			fs = append(fs, f[5])
		}
	}
	return fs
}

// TestWireLines: a connect, a send and a close, each followed by its
// packets, flags in order, sequence numbers relative, the payload shown.
func TestWireLines(t *testing.T) {
	needWire(t)
	s := newSession(t, Config{})
	s.ok(`
		expect(wire("on"), true)
		srv = socket("inet", "stream"); bind(srv, "127.0.0.1:0"); listen(srv)
		c = socket("inet", "stream")
		print("connect"); connect(c, getsockname(srv))
		conn = accept(srv)
		print("send"); send(c, "hello\n")
		expect(recv(conn), "hello\n")
		print("close"); close(c)
		expect(recv(conn), "")
		print("close conn"); close(conn)
		print("linger"); c = socket("inet", "stream"); connect(c, getsockname(srv)); conn = accept(srv)
		setopt(c, "linger", 0); close(c)
		print("end"); close(conn); close(srv)
		expect(wire("off"), true)`)
	out := s.out.String()
	t.Log("\n" + out)
	sections := map[string]string{}
	name := ""
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "wire ") {
			name = l
			continue
		}
		sections[name] += l + "\n"
	}
	// The ACK of the first FIN is delayed, and usually rides on the
	// other side's FIN, but may come on its own.
	for _, c := range []struct{ section, flags string }{
		{"connect", "SYN SYN-ACK ACK"},
		{"send", "PSH-ACK ACK"},
		{"close", "FIN-ACK( ACK)?"},
		{"close conn", "(ACK )?FIN-ACK ACK"},
		{"linger", "SYN SYN-ACK ACK RST-ACK"},
	} {
		if got := strings.Join(flagsOf(sections[c.section]), " "); !regexp.MustCompile("^" + c.flags + "$").MatchString(got) {
			t.Errorf("after %s: flags %q, want %q", c.section, got, c.flags)
		}
	}
	for _, want := range []string{` SYN seq 0 win `, ` SYN-ACK seq 0 ack 1 win `, ` ACK seq 1 ack 1 win `, ` PSH-ACK seq 1 ack 1 win \d+ len 6 "hello\\n"`, ` FIN-ACK seq 7 ack 1 `} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no line matching %q", want)
		}
	}
	if sections["end"] != "" {
		t.Errorf("packets after the last call: %q", sections["end"])
	}
}

// TestWireOffStopsIt: wire off closes its descriptors (goleak in TestMain
// checks the goroutines at the end too).
func TestWireOffStopsIt(t *testing.T) {
	needWire(t)
	s := newSession(t, Config{})
	s.ok(`x = 1`)
	before := openFDs(t)
	s.ok(`wire("on") wire("on") wire("off") wire("off")`)
	if after := openFDs(t); after != before {
		t.Errorf("descriptors: %d before, %d after wire on and off", before, after)
	}
	s.ok(`wire("on")`) // and Close stops it
}

func openFDs(t *testing.T) int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestTCPInfoMatchesSS holds info's TCP_INFO counters to what ss -ti says
// of the same socket while the connection is idle.
func TestTCPInfoMatchesSS(t *testing.T) {
	ss, err := exec.LookPath("ss")
	if err != nil {
		t.Skip("no ss")
	}
	s := newSession(t, Config{})
	port := s.ok(`
		srv = socket("inet", "stream"); bind(srv, "127.0.0.1:0"); listen(srv)
		c = socket("inet", "stream"); connect(c, getsockname(srv)); conn = accept(srv)
		for i = 1, 20 do send(c, string.rep("x", 3000)); recvn(conn, 3000); send(conn, "k"); recvn(c, 1) end
		sleep(0.1)
		return getsockname(c):match(":(%d+)$")`)[0].String()
	fields := []string{"rtt", "rttvar", "rto", "snd_cwnd", "ssthresh", "segs_in", "segs_out", "bytes_acked", "total_retrans"}
	read := func() map[string]float64 {
		res := s.ok(`return info(c)`)
		m := map[string]float64{}
		for _, f := range fields {
			n, ok := res[0].(*lua.LTable).RawGetString(f).(lua.LNumber)
			if !ok {
				t.Fatalf("info(c).%s is missing", f)
			}
			m[f] = float64(n)
		}
		return m
	}
	for try := 0; ; try++ {
		before := read()
		out, err := exec.Command(ss, "-tinH", "state", "established", "src", "127.0.0.1:"+port).CombinedOutput()
		if err != nil {
			t.Fatalf("ss: %v\n%s", err, out)
		}
		after := read()
		if !equalMaps(before, after) && try < 5 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		got := ssFields(string(out))
		t.Logf("ss: %s\ninfo: %v", strings.Join(strings.Fields(string(out)), " "), after)
		checks := []struct {
			ss   string
			info string
			unit float64
		}{{"rtt", "rtt", 1000}, {"rttvar", "rttvar", 1000}, {"rto", "rto", 1000}, {"cwnd", "snd_cwnd", 1},
			{"segs_in", "segs_in", 1}, {"segs_out", "segs_out", 1}, {"bytes_acked", "bytes_acked", 1}}
		for _, c := range checks {
			v, ok := got[c.ss]
			if !ok {
				t.Errorf("ss shows no %s", c.ss)
				continue
			}
			if math.Abs(v*c.unit-after[c.info]) > 0.5 {
				t.Errorf("%s: ss %v, info %v", c.ss, v*c.unit, after[c.info])
			}
		}
		if v, ok := got["ssthresh"]; ok && v != after["ssthresh"] || !ok && after["ssthresh"] < 0xffff {
			t.Errorf("ssthresh: ss %v (shown %v), info %v", v, ok, after["ssthresh"])
		}
		return
	}
}

func equalMaps(a, b map[string]float64) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// ssFields reads ss -ti's name:value words; rtt:A/B gives rtt and rttvar.
func ssFields(out string) map[string]float64 {
	m := map[string]float64{}
	for _, w := range strings.Fields(out) {
		name, v, ok := strings.Cut(w, ":")
		if !ok {
			continue
		}
		if name == "rtt" {
			a, b, _ := strings.Cut(v, "/")
			m["rtt"], _ = strconv.ParseFloat(a, 64)
			m["rttvar"], _ = strconv.ParseFloat(b, 64)
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			m[name] = f
		}
	}
	return m
}

// TestWireFileName: a name wire takes must end in .pcap, so that a typo
// creates no file; in --sandbox it writes none.
func TestWireFileName(t *testing.T) {
	res := runOK(t, `return wire("of")`)
	wantResults(t, res, `(nil, "wire of: EINVAL: expected on, off or a file name ending in .pcap", "EINVAL")`)
	s := newSession(t, Config{Sandbox: true})
	wantResults(t, s.ok(`return wire("x.pcap")`), `(nil, "wire x.pcap: EPERM: file writes are refused in --sandbox", "EPERM")`)
	needWire(t)
	name := t.TempDir() + "/w.pcap"
	runOK(t, `assert(wire("`+name+`")) wire("off")`)
	if fi, err := os.Stat(name); err != nil || fi.Size() < 24 {
		t.Errorf("the pcap file: %v, %v", fi, err)
	}
}

// TestWireNotOtherFlows: another process's connection from the same local
// port as one of the session's (the kernel shares a port between flows to
// different destinations; here SO_REUSEADDR does it on purpose) is not
// shown: the wire shows the session's flows only.
func TestWireNotOtherFlows(t *testing.T) {
	needWire(t)
	other, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	s := newSession(t, Config{})
	s.ok(`
		expect(wire("on"), true)
		srv = socket("inet", "stream"); bind(srv, "127.0.0.1:0"); listen(srv)
		c = socket("inet", "stream"); setopt(c, "reuseaddr", true); bind(c, "127.0.0.1:0")
		connect(c, getsockname(srv)); conn = accept(srv)
		port = tonumber(getsockname(c):match(":(%d+)$"))`)
	port := int(s.rt.Global("port").(lua.LNumber))
	// The other flow: 127.0.0.1:port to the other listener.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind to the session's port %d: %v", port, err)
	}
	otherPort := other.Addr().(*net.TCPAddr).Port
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: otherPort, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(fd, []byte("not the session's")); err != nil {
		t.Fatal(err)
	}
	s.ok(`
		send(c, "the session's"); expect(recv(conn), "the session's")
		sleep(0.05); send(conn, "!"); expect(recv(c), "!")
		ps = packets()
		expect(wire("off"), true)`)
	ps := s.rt.Global("ps").(*lua.LTable)
	mine := 0
	for i := 1; i <= ps.Len(); i++ {
		p := ps.RawGetInt(i).(*lua.LTable)
		src, dst := p.RawGetString("src").String(), p.RawGetString("dst").String()
		if strings.HasSuffix(src, ":"+strconv.Itoa(otherPort)) || strings.HasSuffix(dst, ":"+strconv.Itoa(otherPort)) {
			t.Errorf("the other process's packet is shown: %s > %s", src, dst)
		}
		if p.RawGetString("len").String() == "13" {
			mine++
		}
	}
	if mine == 0 {
		t.Errorf("the session's own 13 bytes are not among the %d packets", ps.Len())
	}
	t.Log("\n" + s.out.String())
}

// TestWireOutsideServer: connecting to a server that is not the session's
// (another process on loopback, as when probing a server), the wire shows
// the server's side too: its SYN-ACK and the bytes it sends at once, which
// come before the session knows its socket's port.
func TestWireOutsideServer(t *testing.T) {
	needWire(t)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Write([]byte("220 hello\r\n"))
		io.Copy(io.Discard, c)
		c.Close()
	}()
	s := newSession(t, Config{})
	s.ok(`
		expect(wire("on"), true)
		c = socket("inet", "stream")
		connect(c, "` + l.Addr().String() + `")
		expect(recvline(c), "220 hello")
		close(c)
		ps = packets()
		expect(wire("off"), true)`)
	out := s.out.String()
	if got := strings.Join(flagsOf(out), " "); !strings.HasPrefix(got, "SYN SYN-ACK ACK") {
		t.Errorf("flags %q, want the handshake's three first:\n%s", got, out)
	}
	if !strings.Contains(out, `len 11 "220 hello\r\n"`) {
		t.Errorf("the server's greeting is not shown:\n%s", out)
	}
}

// TestWirePortUnreachable: a datagram to a closed port, from a connected
// UDP socket: the wire shows the kernel's ICMP answer right after the
// send, and the socket's next recv fails with ECONNREFUSED because of it.
func TestWirePortUnreachable(t *testing.T) {
	needWire(t)
	s := newSession(t, Config{})
	s.ok(`
		expect(wire("on"), true)
		local gone = socket("inet", "dgram"); bind(gone, "127.0.0.1:0"); closed = getsockname(gone); close(gone)
		u = socket("inet", "dgram"); connect(u, closed)
		send(u, "anyone?")
		ps = packets()
		local _, _, code = recv(u, 100, 1)
		expect(code, "ECONNREFUSED")
		expect(wire("off"), true)`)
	out := s.out.String()
	if !regexp.MustCompile(`wire \+\S+ 127\.0\.0\.1:\d+ > 127\.0\.0\.1:\d+ ICMP port unreachable \(UDP\)\n`).MatchString(out) {
		t.Errorf("no ICMP line:\n%s", out)
	}
	ps := s.rt.Global("ps").(*lua.LTable)
	found := false
	for i := 1; i <= ps.Len(); i++ {
		p := ps.RawGetInt(i).(*lua.LTable)
		if p.RawGetString("proto").String() == "ICMP" && p.RawGetString("flags").String() == "port unreachable (UDP)" &&
			p.RawGetString("src").String() == s.rt.Global("closed").String() {
			found = true
		}
	}
	if !found {
		t.Errorf("packets() has no ICMP port unreachable from %s:\n%s", s.rt.Global("closed"), out)
	}
}
