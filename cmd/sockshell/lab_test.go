package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sockshell/lab"
)

// needLab skips a test where the process may not make network namespaces.
func needLab(t *testing.T) {
	t.Helper()
	ns, err := lab.NewNS(nil)
	if errors.Is(err, lab.ErrPermission) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ns.Close()
}

// sockshellOut runs sockshell ARGS and returns what it printed, failing
// the test unless it exits 0.
func sockshellOut(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("sockshell", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sockshell %q: %v\n%s%s", args, err, out, stderr.String())
	}
	return string(out)
}

// connectChunk makes a listener on host b, connects to it from host a and
// prints how long connect took, in ms.
const connectChunk = `
host("b")
local l = assert(socket("inet", "stream"))
assert(bind(l, "198.18.0.2:0")); assert(listen(l))
host("a")
local c = assert(socket("inet", "stream"))
local t0 = now()
assert(connect(c, getsockname(l)))
print(string.format("connect %.1f", (now() - t0) * 1000))
local s = assert(accept(l))
expect(info(c).host, "a"); expect(info(s).host, "b")
`

// TestLabDelay: over --lab "delay 100ms" a connect from a to b takes the
// SYN's and the SYN-ACK's crossings, at least 200 ms, and not much more.
func TestLabDelay(t *testing.T) {
	needLab(t)
	t.Parallel()
	out := sockshellOut(t, "--lab", "delay 100ms", "-e", connectChunk)
	m := regexp.MustCompile(`connect ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no connect time in:\n%s", out)
	}
	ms, _ := strconv.ParseFloat(m[1], 64)
	if ms < 200 || ms > 600 {
		t.Fatalf("connect over a 100 ms link took %.1f ms, want 200 ms and a little", ms)
	}
	t.Logf("connect took %.1f ms", ms)
}

// TestLabRetransmission: a data segment the link drops is sent again, and
// the wire shows both, marked.
func TestLabRetransmission(t *testing.T) {
	needLab(t)
	t.Parallel()
	pcap := filepath.Join(t.TempDir(), "lab.pcap")
	out := sockshellOut(t, "--lab", "delay 10ms", "--wire", "--pcap", pcap, "-e", connectChunk+`
assert(drop("a2b"))
assert(send(c, "hello"))
expect(recv(s, 10), "hello")
expect(info(c).total_retrans, 1)
`)
	for _, want := range []string{
		`198\.18\.0\.1:\d+ > 198\.18\.0\.2:\d+ SYN seq 0 win \d+ \[delay 10\.\dms\]`,
		`PSH-ACK seq 1 ack 1 win \d+ len 5 "hello" \[dropped\]`,
		`PSH-ACK seq 1 ack 1 win \d+ len 5 "hello" retransmission \[delay 10\.\dms\]`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no line matching %s in:\n%s", want, out)
		}
	}
	// The pcap has the same packets, Ethernet frames as loopback's.
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("no tcpdump to read the pcap")
	}
	dump, err := exec.Command(tcpdump, "-nn", "-r", pcap).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, dump)
	}
	shown := len(regexp.MustCompile(`(?m)^wire `).FindAllString(out, -1))
	hello := regexp.MustCompile(`(?m)^\S+ IP 198\.18\.0\.1\.\d+ > 198\.18\.0\.2\.\d+: Flags \[P\.\], seq 1:6, .*length 5$`)
	if n := strings.Count(string(dump), "\n") - 1; n != shown || len(hello.FindAllString(string(dump), -1)) != 2 {
		t.Errorf("tcpdump read %d packets, the wire showed %d, want the same, hello twice:\n%s", n, shown, dump)
	}
}

// TestNetnsIsolation: a --netns session and the machine do not see each
// other's loopback listeners.
func TestNetnsIsolation(t *testing.T) {
	needLab(t)
	t.Parallel()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out := sockshellOut(t, "--netns", "-e", fmt.Sprintf(`
local c = assert(socket("inet", "stream"))
print(connect(c, "%s"))`, ln.Addr()))
	if !strings.Contains(out, "ECONNREFUSED") {
		t.Errorf("from --netns, a connect to the machine's %s: %s, want ECONNREFUSED", ln.Addr(), out)
	}

	cmd := exec.Command("sockshell", "--netns", "-e", `
local l = assert(socket("inet", "stream"))
assert(bind(l, "127.0.0.1:0")); assert(listen(l))
print(getsockname(l))
io.read()`)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSpace(line)
	if c, err := net.Dial("tcp4", addr); err == nil {
		c.Close()
		t.Errorf("the machine reached %s, a listener of a --netns session", addr)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial %s: %v, want ECONNREFUSED", addr, err)
	}
}

// machine is what the machine's network looks like from the tests'
// namespace: its links, its named namespaces.
func machine(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, c := range [][]string{{"ip", "-o", "link"}, {"ip", "netns"}, {"ls", "-a", "/run/netns"}} {
		out, _ := exec.Command(c[0], c[1:]...).CombinedOutput()
		fmt.Fprintf(&b, "$ %s\n%s", strings.Join(c, " "), out)
	}
	return b.String()
}

// netnsOf are the network namespaces (their inodes) process pid's
// threads are in or hold a descriptor of, but the machine's own (the
// tests').
func netnsOf(pid int) []string {
	self, _ := os.Readlink("/proc/self/ns/net")
	var found []string
	links, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/ns/net", pid))
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, l := range append(links, fds...) {
		if ns, err := os.Readlink(l); err == nil && strings.HasPrefix(ns, "net:") && ns != self && !slices.Contains(found, ns) {
			found = append(found, ns)
		}
	}
	return found
}

// holders lists the processes whose threads are in one of the namespaces
// or hold a descriptor of one.
func holders(inodes []string) []string {
	var found []string
	links, _ := filepath.Glob("/proc/[0-9]*/task/*/ns/net")
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, l := range append(links, fds...) {
		if ns, err := os.Readlink(l); err == nil && slices.Contains(inodes, ns) {
			found = append(found, l+" -> "+ns)
		}
	}
	return found
}

// TestLabLeavesNothing: while a lab session runs, and after it is killed
// with SIGKILL, the machine's links and named namespaces are as they
// were, and no process is left in or holding the session's namespaces.
func TestLabLeavesNothing(t *testing.T) {
	needLab(t)
	for _, args := range [][]string{{"--lab", "delay 1ms"}, {"--netns", "--lab", "delay 1ms"}, {"--netns"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			before := machine(t)
			cmd := exec.Command("sockshell", append(args, "-e", `
if host() ~= "local" then
  host("b"); local l = assert(socket("inet", "stream")); assert(bind(l, "198.18.0.2:0")); assert(listen(l))
  host("a"); assert(connect(assert(socket("inet", "stream")), getsockname(l)))
end
print("ready"); io.read()`)...)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("sockshell %q: %q, %v", args, line, err)
			}
			during := machine(t)
			spaces := netnsOf(cmd.Process.Pid)
			var children []int // the process --netns runs the session in
			if entries, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid)); err == nil {
				for _, f := range strings.Fields(string(entries)) {
					pid, _ := strconv.Atoi(f)
					children = append(children, pid)
					spaces = append(spaces, netnsOf(pid)...)
				}
			}
			want := 0
			if slices.Contains(args, "--netns") {
				want++ // the session's own
			}
			if slices.Contains(args, "--lab") {
				want += 2 // the hosts
			}
			if len(slices.Compact(slices.Sorted(slices.Values(spaces)))) < want {
				t.Errorf("the session's namespaces: %q, want %d at least", spaces, want)
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			if during != before {
				t.Errorf("during the session, the machine's network changed:\n%s\nwas:\n%s", during, before)
			}
			deadline := time.Now().Add(5 * time.Second)
			for left := holders(spaces); len(left) > 0; left = holders(spaces) {
				if time.Now().After(deadline) {
					t.Fatalf("after SIGKILL, the session's namespaces are still held:\n%s", strings.Join(left, "\n"))
				}
				time.Sleep(20 * time.Millisecond)
			}
			if after := machine(t); after != before {
				t.Errorf("after the session, the machine's network changed:\n%s\nwas:\n%s", after, before)
			}
		})
	}
}

// nobodyDir makes a directory where nobody may run a copy of the test
// binary named sockshell, removed when the test ends.
func nobodyDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sockshell-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sockshell"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// asNobody runs sockshell ARGS in dir as nobody and returns its output
// and exit status.
func asNobody(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	for try := 0; ; try++ {
		cmd := exec.Command(filepath.Join(dir, "sockshell"), args...)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case errors.Is(err, syscall.ETXTBSY) && try < 50:
			// A program another test started in the moment the copy was
			// written still has it open, until it runs.
			time.Sleep(20 * time.Millisecond)
			continue
		case errors.As(err, &exit):
			return string(out), exit.ExitCode()
		case err != nil:
			t.Fatal(err)
		}
		return string(out), 0
	}
}

// TestLabUnprivileged: without root, --netns and --lab each say in one
// line that they need it and exit 1; in Lua, lab fails with EPERM and
// the rest of the session goes on; retransmission.lua says why it skips.
func TestLabUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run sockshell as another user")
	}
	t.Parallel()
	dir := nobodyDir(t)
	for _, c := range []struct {
		args []string
		out  string
		code int
	}{
		{[]string{"--netns", "-e", "print(1)"}, "sockshell: --netns: needs root (CAP_SYS_ADMIN) to make network namespaces\n", 1},
		{[]string{"--lab", "delay 100ms", "-e", "print(1)"}, "sockshell: lab: EPERM: needs root (CAP_SYS_ADMIN) to make network namespaces\n", 1},
		{[]string{"-e", `print(lab{delay = 0.1}); print(host("a")); local s = assert(socket("inet", "stream")); assert(bind(s, "127.0.0.1:0")); print(info(s).host, "ok")`},
			"nil\tlab: EPERM: needs root (CAP_SYS_ADMIN) to make network namespaces\tEPERM\n" +
				"nil\thost: EINVAL: no lab: build one first with lab{...} or --lab\tEINVAL\n" +
				"nil\tok\n", 0},
	} {
		out, code := asNobody(t, dir, c.args...)
		if out != c.out || code != c.code {
			t.Errorf("sockshell %q as nobody: %q, exit %d; want %q, exit %d", c.args, out, code, c.out, c.code)
		}
	}
	script, err := os.ReadFile("../../scripts/retransmission.lua")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "retransmission.lua"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := asNobody(t, dir, "retransmission.lua"); code != 0 || !strings.Contains(out, "(skipped: lab: EPERM: needs root") {
		t.Errorf("retransmission.lua as nobody: exit %d\n%s", code, out)
	}
}

// TestNetnsTerminal: the shell of a --netns session with a lab, on a
// terminal: the child has the terminal (the prompt, line editing), Ctrl-C
// stops a call that waits and leaves the session, and exit ends both
// processes with status 0.
func TestNetnsTerminal(t *testing.T) {
	needLab(t)
	term := startTerminal(t, t.TempDir(), "--netns", "--lab", "delay 20ms")
	for _, c := range [][2]string{{"host b", "b"}, {"socket inet stream", "3"}, {"bind 3 198.18.0.2:9000", "ok"}, {"listen 3", "ok"}} {
		term.expect(prompt)
		term.send(c[0] + "\r")
		term.expect(`\r\n` + c[1] + `\r\n`)
	}
	term.expect(prompt)
	term.send("accept 3\r")
	term.settle()
	term.send("\x03")
	term.expect(`error: accept 3: EINTR`)
	term.expect(prompt)
	term.send("fds\r")
	term.expect(`3 +inet +stream +listening +LISTEN +198\.18\.0\.2:9000 .* b\r\n`)
	term.expect(prompt)
	term.send("exit\r")
	select {
	case <-term.done:
		if term.err != nil {
			t.Fatalf("exit: %v\n%s", term.err, term.all())
		}
	case <-time.After(ptyTimeout):
		t.Fatalf("still running after exit:\n%s", term.all())
	}
}

// TestNetnsSignal: a SIGTERM to a --netns sockshell reaches the session,
// which ends as it ends without --netns: status 128+15.
func TestNetnsSignal(t *testing.T) {
	needLab(t)
	t.Parallel()
	cmd := exec.Command("sockshell", "--netns", "-e", `print("ready"); sleep(30)`)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%q, %v", line, err)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 128+15 || time.Since(start) > 5*time.Second {
		t.Fatalf("after SIGTERM: %v after %v, want exit status 143 at once", err, time.Since(start))
	}
}

// TestLabRecordMidSession: a recording started in the shell after the lab
// was built begins by building it, on the host the session is on, and
// replays: its sockets are made where the session made them, over the
// same link.
func TestLabRecordMidSession(t *testing.T) {
	needLab(t)
	t.Parallel()
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec.lua")
	cmd := exec.Command("sockshell")
	cmd.Stdin = strings.NewReader(`lab delay 50ms
host b
record ` + rec + `
l = socket("inet", "stream") bind(l, "198.18.0.2:0") listen(l)
host a
c = socket("inet", "stream") connect(c, getsockname(l)) s = accept(l)
sendline(c, "over the link") print(recvline(s))
record stop
`)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "over the link") {
		t.Fatalf("the session: %v\n%s", err, out)
	}
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	labAt, hostAt, socketAt := strings.Index(text, `lab("delay 50ms")`), strings.Index(text, `host("b")`), strings.Index(text, "socket(")
	if labAt < 0 || hostAt < labAt || socketAt < hostAt {
		t.Fatalf("the recording does not begin with the lab and the host, then the socket:\n%s", text)
	}
	start := time.Now()
	out, err = exec.Command("sockshell", rec).CombinedOutput()
	if err != nil {
		t.Fatalf("the replay: %v\n%s\n%s", err, out, text)
	}
	// The connect and the line each cross the 50 ms link both ways.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("the replay took %v: not over the lab's 50 ms link", d)
	}
}
