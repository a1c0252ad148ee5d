package sock_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// The tests here hold the descriptor table to ss (iproute2), which asks the
// kernel through sock_diag: after each step of the socket workflow, every
// descriptor's state and queues must be what ss shows at the same moment,
// wherever ss reports the same quantity.

// ssRow is a socket as ss shows it.
type ssRow struct {
	state        string // ESTAB, LISTEN, UNCONN, CLOSE-WAIT, ...
	recvq, sendq int
	line         string
}

// ssSockets runs ss with args (which select the family and filter) and
// returns its sockets by inode.
func ssSockets(t *testing.T, args ...string) map[uint64]ssRow {
	t.Helper()
	out, err := exec.Command("ss", append([]string{"-H", "-n", "-a", "-e"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ss %s: %v", strings.Join(args, " "), err)
	}
	rows := map[uint64]ssRow{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], "u_") { // the Netid column of AF_UNIX
			f = f[1:]
		}
		if len(f) < 5 {
			continue
		}
		r := ssRow{state: f[0], line: line}
		r.recvq, _ = strconv.Atoi(f[1])
		r.sendq, _ = strconv.Atoi(f[2])
		var ino uint64
		if strings.HasPrefix(args[0], "-x") {
			ino, _ = strconv.ParseUint(f[4], 10, 64) // local address, then its inode
		} else {
			for _, x := range f[5:] {
				if v, ok := strings.CutPrefix(x, "ino:"); ok {
					ino, _ = strconv.ParseUint(v, 10, 64)
				}
			}
		}
		if ino != 0 {
			rows[ino] = r
		}
	}
	return rows
}

// ssStates are ss's names for the kernel's TCP states.
var ssStates = map[string]string{
	"ESTABLISHED": "ESTAB", "SYN_SENT": "SYN-SENT", "SYN_RECV": "SYN-RECV", "FIN_WAIT1": "FIN-WAIT-1",
	"FIN_WAIT2": "FIN-WAIT-2", "TIME_WAIT": "TIME-WAIT", "CLOSE": "UNCONN", "CLOSE_WAIT": "CLOSE-WAIT",
	"LAST_ACK": "LAST-ACK", "LISTEN": "LISTEN", "CLOSING": "CLOSING",
}

// ssCheck compares the table's rows with ss's for one step of a workflow.
type ssCheck struct {
	t      *testing.T
	tab    *sock.Table
	family string          // tcp, udp or unix
	inodes map[int]uint64  // every descriptor the test opened, by fd
	closed map[uint64]bool // inodes of the ones it closed since
}

func newSSCheck(t *testing.T, tab *sock.Table, family string) *ssCheck {
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("ss (iproute2) is not installed")
	}
	return &ssCheck{t: t, tab: tab, family: family, inodes: map[int]uint64{}, closed: map[uint64]bool{}}
}

func (c *ssCheck) add(fd int) int {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		c.t.Fatal(err)
	}
	c.inodes[fd] = st.Ino
	return fd
}

func (c *ssCheck) close(fd int) {
	if err := c.tab.Close(fd); err != nil {
		c.t.Fatal(err)
	}
	c.closed[c.inodes[fd]] = true
	delete(c.inodes, fd)
}

// args are ss's arguments for the family, filtered to the test's own
// sockets: their ports (TCP, UDP); AF_UNIX sockets are picked by inode,
// since a client's has no name to filter on.
func (c *ssCheck) args(infos map[int]sock.Info) []string {
	if c.family == "unix" {
		return []string{"-x"}
	}
	var ports []string
	for _, in := range infos {
		for _, a := range []string{in.Local, in.Remote} {
			if i := strings.LastIndex(a, ":"); i >= 0 && a[i+1:] != "0" {
				ports = append(ports, "sport = :"+a[i+1:])
			}
		}
	}
	flag := map[string]string{"tcp": "-t", "udp": "-u"}[c.family]
	if len(ports) == 0 {
		return []string{flag, "sport = :1 and sport = :2"} // nothing of ours is hashed yet
	}
	return []string{flag, strings.Join(ports, " or ")}
}

// step checks the table against ss after the workflow step named what. The
// kernel acts on its own (an ACK arrives), so a difference is looked at
// again for a while before it fails the test, and a comparison only counts
// when the table read the same before and after ss ran.
func (c *ssCheck) step(what string) {
	c.t.Helper()
	var problems []string
	for try := 0; try < 50; try++ {
		if try > 0 {
			time.Sleep(5 * time.Millisecond)
		}
		before := c.infos()
		rows := ssSockets(c.t, c.args(before)...)
		if after := c.infos(); fmt.Sprint(after) != fmt.Sprint(before) {
			continue
		}
		if problems = c.compare(before, rows); len(problems) == 0 {
			return
		}
	}
	c.t.Errorf("after %s, the table and ss differ:\n  %s", what, strings.Join(problems, "\n  "))
}

func (c *ssCheck) infos() map[int]sock.Info {
	m := map[int]sock.Info{}
	for fd := range c.inodes {
		in, err := c.tab.Info(fd)
		if err != nil {
			c.t.Fatal(err)
		}
		m[fd] = in
	}
	return m
}

func (c *ssCheck) compare(infos map[int]sock.Info, rows map[uint64]ssRow) (problems []string) {
	bad := func(fd int, in sock.Info, r ssRow, ok bool, format string, args ...any) {
		row := "no row"
		if ok {
			row = r.line
		}
		problems = append(problems, fmt.Sprintf("fd %d (%s %s, RECVQ %d SENDQ %d): %s; ss: %s",
			fd, in.State, in.TCPState, in.RecvQ, in.SendQ, fmt.Sprintf(format, args...), row))
	}
	for fd, in := range infos {
		r, ok := rows[c.inodes[fd]]
		switch c.family {
		case "tcp":
			// An unbound or bound-only TCP socket is in none of the
			// kernel's lookup tables, and ss (6.1) does not list it; nor
			// one that is closed (its TIME_WAIT record has no inode).
			wantState := ssStates[in.TCPState]
			if in.TCPState == "CLOSE" {
				if ok {
					bad(fd, in, r, ok, "a closed TCP socket that ss lists")
				}
				if in.State == "listening" {
					bad(fd, in, r, ok, "state %s for TCP state CLOSE", in.State)
				}
				continue
			}
			if !ok || r.state != wantState {
				bad(fd, in, r, ok, "TCP state %s, ss's %s", in.TCPState, wantState)
				continue
			}
			if want := apiState(in.TCPState); !strings.HasPrefix(in.State, want) {
				bad(fd, in, r, ok, "state %s, want %s for %s", in.State, want, in.TCPState)
			}
			// ss counts a FIN received and not yet read as one more
			// in Recv-Q; RECVQ counts bytes only.
			fin := 0
			if in.TCPState == "CLOSE_WAIT" || in.TCPState == "LAST_ACK" || in.TCPState == "CLOSING" {
				fin = r.recvq - in.RecvQ
			}
			if r.recvq-fin != in.RecvQ || fin > 1 || fin < 0 || r.sendq != in.SendQ {
				bad(fd, in, r, ok, "queues differ")
			}
		case "udp":
			// RECVQ is the next datagram's size (SIOCINQ); ss's Recv-Q the
			// memory the queued datagrams take: only both zero or both not.
			switch {
			case in.State == "created":
				if ok {
					bad(fd, in, r, ok, "ss lists (the kernel bound) a socket the table calls created")
				}
			case !ok:
				bad(fd, in, r, ok, "ss does not list it")
			case r.state != map[bool]string{true: "ESTAB", false: "UNCONN"}[in.State == "connected" || strings.HasPrefix(in.State, "shut-")]:
				bad(fd, in, r, ok, "state %s, ss's %s", in.State, r.state)
			case (r.recvq == 0) != (in.RecvQ == 0) || r.sendq != in.SendQ:
				bad(fd, in, r, ok, "queues differ")
			}
		case "unix":
			want := "UNCONN"
			switch {
			case in.State == "listening":
				want = "LISTEN"
			case in.State == "connected" || strings.HasPrefix(in.State, "shut-"):
				want = "ESTAB"
			}
			switch {
			case !ok || r.state != want:
				bad(fd, in, r, ok, "state %s, want ss's %s", in.State, want)
			case r.recvq != in.RecvQ || r.sendq != in.SendQ:
				bad(fd, in, r, ok, "queues differ")
			}
		}
	}
	for ino := range c.closed {
		if r, ok := rows[ino]; ok {
			problems = append(problems, fmt.Sprintf("a closed socket (inode %d) that ss lists: %s", ino, r.line))
		}
	}
	return problems
}

// apiState is the API state a TCP state implies (shut-* start with "shut").
func apiState(tcp string) string {
	switch tcp {
	case "LISTEN":
		return "listening"
	case "SYN_SENT", "SYN_RECV":
		return "connecting"
	case "ESTABLISHED", "CLOSE_WAIT":
		return "connected"
	}
	return "shut" // FIN_WAIT1, FIN_WAIT2, CLOSING, LAST_ACK: this side sent its FIN
}

// TestTableMatchesSS walks the workflow — socket, bind, listen, connect,
// accept, send, recv, shutdown, close — over TCP, UDP and AF_UNIX streams,
// and compares the table with ss after every step.
func TestTableMatchesSS(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		tab := newTable(t)
		c := newSSCheck(t, tab, "tcp")
		srv := c.add(socket(t, tab, "inet", "stream"))
		c.step("socket")
		addr := bind(t, tab, srv, "127.0.0.1:0")
		c.step("bind")
		if err := tab.Listen(srv, 8); err != nil {
			t.Fatal(err)
		}
		c.step("listen")
		cli := c.add(socket(t, tab, "inet", "stream"))
		// A connect that does not wait for its handshake: the table must
		// still follow the kernel.
		if err := tab.Connect(cli, addr); err != unix.EINPROGRESS && err != nil {
			t.Fatal(err)
		}
		c.step("connect")
		acc, _ := accept(t, tab, srv)
		c.add(acc)
		c.step("accept")
		send(t, tab, cli, "hello")
		c.step("send")
		if got := recvN(t, tab, acc, 5); got != "hello" {
			t.Fatalf("recv: %q", got)
		}
		c.step("recv")
		send(t, tab, acc, "bye")
		c.step("send back")
		if err := tab.Shutdown(cli, "wr"); err != nil {
			t.Fatal(err)
		}
		eventually(t, tab, acc, "CLOSE_WAIT", tcpState("CLOSE_WAIT"))
		c.step("shutdown wr")
		if got := recv(t, tab, acc, 10); got != "" {
			t.Fatalf("recv after the FIN: %q, want end of stream", got)
		}
		c.step("recv of the end of stream")
		c.close(acc)
		eventually(t, tab, cli, "CLOSE", tcpState("CLOSE"))
		c.step("close of the accepted socket")
		c.close(cli)
		c.close(srv)
		c.step("close")
	})

	t.Run("udp", func(t *testing.T) {
		tab := newTable(t)
		c := newSSCheck(t, tab, "udp")
		srv := c.add(socket(t, tab, "inet", "dgram"))
		cli := c.add(socket(t, tab, "inet", "dgram"))
		c.step("socket")
		addr := bind(t, tab, srv, "127.0.0.1:0")
		c.step("bind")
		if _, err := tab.SendTo(cli, "first", addr); err != nil { // the kernel binds cli
			t.Fatal(err)
		}
		c.step("sendto")
		b, from := recvFrom(t, tab, srv)
		if b != "first" {
			t.Fatalf("recvfrom: %q", b)
		}
		c.step("recvfrom")
		if err := tab.Connect(srv, from); err != nil {
			t.Fatal(err)
		}
		if err := tab.Connect(cli, addr); err != nil {
			t.Fatal(err)
		}
		c.step("connect")
		send(t, tab, cli, "second")
		c.step("send")
		if got := recv(t, tab, srv, 100); got != "second" {
			t.Fatalf("recv: %q", got)
		}
		c.step("recv")
		if err := tab.Shutdown(cli, "wr"); err != nil {
			t.Fatal(err)
		}
		c.step("shutdown")
		c.close(cli)
		c.close(srv)
		c.step("close")
	})

	t.Run("unix", func(t *testing.T) {
		tab := newTable(t)
		c := newSSCheck(t, tab, "unix")
		srv := c.add(socket(t, tab, "unix", "stream"))
		c.step("socket")
		addr := bind(t, tab, srv, filepath.Join(t.TempDir(), "srv.sock"))
		c.step("bind")
		if err := tab.Listen(srv, 7); err != nil {
			t.Fatal(err)
		}
		c.step("listen")
		cli := c.add(dial(t, tab, "unix", addr))
		c.step("connect") // the listener: 1 waiting, backlog 7
		acc, _ := accept(t, tab, srv)
		c.add(acc)
		c.step("accept")
		send(t, tab, cli, "hello")
		c.step("send") // the client's SENDQ: the memory the 5 bytes take
		if got := recvN(t, tab, acc, 5); got != "hello" {
			t.Fatalf("recv: %q", got)
		}
		c.step("recv")
		if err := tab.Shutdown(cli, "wr"); err != nil {
			t.Fatal(err)
		}
		c.step("shutdown")
		c.close(acc)
		c.close(cli)
		c.close(srv)
		c.step("close")
	})
}

func recvFrom(t *testing.T, tab *sock.Table, fd int) (string, string) {
	t.Helper()
	var b []byte
	var from unix.Sockaddr
	err := tab.Do(context.Background(), fd, sock.Readable, time.Now().Add(patience), func() (err error) {
		b, from, err = tab.RecvFrom(fd, 100)
		return err
	})
	if err != nil {
		t.Fatalf("recvfrom: %v", err)
	}
	return string(b), sock.FormatAddr(from)
}
