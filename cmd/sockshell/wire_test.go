package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"sockshell/wire"
)

// TestWireWorkflow: as root, sockshell --wire scripts/tcp_workflow.lua
// prints the handshake between connect and accept and the teardown
// around the closes, and --pcap writes the same packets, as tcpdump -r
// reads them.
func TestWireWorkflow(t *testing.T) {
	c, err := wire.Open(nil)
	if err != nil {
		t.Skipf("wire: %v", err)
	}
	c.Close()
	root, _ := filepath.Abs("../..")
	pcap := filepath.Join(t.TempDir(), "w.pcap")
	cmd := exec.Command("sockshell", "--wire", "--pcap", pcap, "scripts/tcp_workflow.lua")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr.String())
	}
	text := string(out)
	between := func(from, to string) string {
		i, j := strings.Index(text, from), strings.Index(text, to)
		if i < 0 || j < i {
			t.Fatalf("no %q before %q in:\n%s", from, to, text)
		}
		return text[i:j]
	}
	flags := func(s string) string {
		var fs []string
		for _, m := range regexp.MustCompile(`(?m)^wire \S+ \S+ > \S+ (\S+)`).FindAllStringSubmatch(s, -1) {
			fs = append(fs, m[1])
		}
		return strings.Join(fs, " ")
	}
	if got := flags(between("5. client: connect()", "6. server: accept()")); got != "SYN SYN-ACK ACK" {
		t.Errorf("between connect and accept: %q, want SYN SYN-ACK ACK\n%s", got, text)
	}
	if got := flags(between("9. done", "all closed")); !regexp.MustCompile(`^FIN-ACK (ACK )?FIN-ACK ACK$`).MatchString(got) {
		t.Errorf("the teardown: %q, want FIN-ACK, (ACK,) FIN-ACK, ACK\n%s", got, text)
	}
	lines := len(regexp.MustCompile(`(?m)^wire `).FindAllString(text, -1))
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("no tcpdump to read the pcap back")
	}
	dump, err := exec.Command(tcpdump, "-nn", "-r", pcap).Output()
	if err != nil {
		t.Fatalf("tcpdump -r: %v", err)
	}
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^\S+ IP \S+ > \S+: Flags \[([^\]]*)\]`).FindAllStringSubmatch(string(dump), -1) {
		got = append(got, m[1])
	}
	if len(got) != lines {
		t.Errorf("tcpdump read %d packets, the wire showed %d:\n%s", len(got), lines, dump)
	}
	// tcpdump's names for the flags the wire showed, in the same order.
	names := map[string]string{"S": "SYN", "S.": "SYN-ACK", ".": "ACK", "P.": "PSH-ACK", "F.": "FIN-ACK"}
	var want []string
	for _, f := range got {
		want = append(want, names[f])
	}
	if w := strings.Join(want, " "); w != flags(text) {
		t.Errorf("tcpdump's flags %q, the wire's %q", w, flags(text))
	}
}

// TestWireNoPrivilege: without root or CAP_NET_RAW, --wire says so in one
// line and the session goes on; wire on fails with its one line.
func TestWireNoPrivilege(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var cred *syscall.Credential
	bin := "sockshell"
	if os.Geteuid() == 0 {
		// Run a copy of this binary as nobody, from a directory nobody can read.
		dir, err := os.MkdirTemp("", "wire-nopriv")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		bin = filepath.Join(dir, "sockshell")
		if err := copyFile(self, bin); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dir, 0o755)
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	cmd := exec.Command(bin, "--wire", "-e", `print(socket("inet", "stream")) print(wire("on"))`)
	cmd.Dir = os.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	if got, want := stderr.String(), "sockshell: wire: needs root or CAP_NET_RAW (going on without it)\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	if got, want := stdout.String(), "3\nnil\twire: EPERM: needs root or CAP_NET_RAW\tEPERM\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
}

func copyFile(from, to string) error {
	r, err := os.Open(from)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
