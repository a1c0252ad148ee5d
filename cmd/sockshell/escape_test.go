package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPeerBytesEscaped: a peer that binds its AF_UNIX socket to a path
// with terminal escapes and a newline in it, and sends escapes, gets none
// of them to the terminal: accept, fds, getpeername, info, recvfrom and a
// task's error show them escaped.
func TestPeerBytesEscaped(t *testing.T) {
	dir := t.TempDir()
	listen, dgram := filepath.Join(dir, "l"), filepath.Join(dir, "d")
	evil := filepath.Join(dir, "\x1b]0;owned\x07\nsockshell> ")
	cmd := exec.Command("sockshell")
	cmd.Stdin = strings.NewReader(strings.Join([]string{
		"socket unix stream",
		"bind 3 " + listen,
		"listen 3",
		"socket unix dgram",
		"bind 4 " + dgram,
		"accept 3",
		"fds",
		"getpeername 5",
		"info 5",
		"recvfrom 4",
		`t = spawn(function() error(recv(5)) end)`,
		"wait(t)",
		"assert(false, getpeername(5))",
	}, "\n") + "\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()

	// The peer: a stream socket and a datagram socket, both bound to the
	// evil name (the datagram one in its own directory).
	waitFor(t, dgram)
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	if err := unix.Bind(s, &unix.SockaddrUnix{Name: evil}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(s, &unix.SockaddrUnix{Name: listen}); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(s, []byte("\x1b[2J\x1b[Hcleared")); err != nil {
		t.Fatal(err)
	}
	d, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	os.Mkdir(filepath.Join(dir, "d2"), 0o755)
	evilD := filepath.Join(dir, "d2", filepath.Base(evil))
	if err := unix.Bind(d, &unix.SockaddrUnix{Name: evilD}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Sendto(d, []byte("hi"), 0, &unix.SockaddrUnix{Name: dgram}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("sockshell did not finish\nstdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	}

	out := stdout.String() + stderr.String()
	t.Logf("stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	if i := strings.IndexAny(out, "\x1b\x07"); i >= 0 {
		t.Errorf("raw escape byte %q in the output at %d", out[i], i)
	}
	quote := func(a string) string {
		return `"` + strings.NewReplacer("\x1b", `\x1b`, "\x07", `\x07`, "\n", `\n`).Replace(a) + `"`
	}
	for what, want := range map[string]string{
		"accept":      "\n5 " + quote(evil) + "\n",
		"getpeername": "\n" + quote(evil) + "\n",
		"recvfrom":    "\n\"hi\" " + quote(evilD) + "\n",
		"fds":         "  " + quote(evil) + "  ",
		"task error":  `\x1b[2J\x1b[Hcleared`,
		"lua error":   "error: stdin:1: " + dir + `/\x1b]0;owned\x07 sockshell>` + "\n", // on one line
	} {
		if !strings.Contains(out, want) {
			t.Errorf("%s: output lacks %q", what, want)
		}
	}
	// The table keeps one line per descriptor: the peer's newline did not
	// break it.
	var rows int
	for _, l := range strings.Split(stdout.String(), "\n") {
		if strings.HasPrefix(l, "5 ") && strings.Contains(l, "unix") {
			rows++
		}
	}
	if rows != 2 {
		t.Errorf("%d rows for fd 5 in fds and info; want 2, each on its line", rows)
	}
}

// TestScriptErrorEscaped: a script's error, which may hold what a peer
// sent, reaches stderr escaped.
func TestScriptErrorEscaped(t *testing.T) {
	out, err := exec.Command("sockshell", "-e", `error("\27]0;owned\7\nfake")`).CombinedOutput()
	if err == nil {
		t.Fatal("the failing script exited 0")
	}
	if strings.ContainsAny(string(out), "\x1b\x07") || !strings.Contains(string(out), `\x1b]0;owned\x07\nfake`) {
		t.Errorf("output %q; want the escapes escaped", out)
	}
}

// waitFor waits until path exists.
func waitFor(t *testing.T, path string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s did not appear", path)
}
