package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// recordUntilKilled starts a script that makes some calls under --record
// and then waits, and kills it with sig once the recording holds the calls.
// It returns the recording.
func recordUntilKilled(t *testing.T, sig syscall.Signal) string {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "server.lua")
	rec := filepath.Join(dir, "rec.lua")
	src := `
local l = socket("inet", "stream")
bind(l, "127.0.0.1:0")
listen(l)
local c = socket("inet", "stream")
connect(c, getsockname(l))
local a = accept(l)
send(c, "before the signal\n")
expect(recv(a), "before the signal\n")
print("ready")
accept(l, 30) -- waits until the signal
`
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sockshell", "--record", rec, script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("the script did not get ready: %q, %v", buf, err)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("sockshell did not stop on %v", sig)
	}
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestKill9KeepsTheRecording: everything done before kill -9 is in the
// recording, and the recording replays.
func TestKill9KeepsTheRecording(t *testing.T) {
	rec := recordUntilKilled(t, syscall.SIGKILL)
	for _, want := range []string{"strict(true)", `send(fd4, "before the signal\n")`, `expect(recvn(fd5, 18), "before the signal\n")`} {
		if !strings.Contains(rec, want) {
			t.Errorf("recording lacks %q:\n%s", want, rec)
		}
	}
	path := filepath.Join(t.TempDir(), "rec.lua")
	os.WriteFile(path, []byte(rec), 0o644)
	if out, err := exec.Command("sockshell", path).CombinedOutput(); err != nil {
		t.Errorf("the recording cut by kill -9 does not replay: %v\n%s\n%s", err, out, rec)
	}
}

// TestTermAndHupFinishTheRecording: SIGTERM and SIGHUP end the session
// cleanly: the recording gets its closing line.
func TestTermAndHupFinishTheRecording(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		rec := recordUntilKilled(t, sig)
		if !strings.Contains(rec, "-- end of recording") {
			t.Errorf("after %v the recording has no closing line:\n%s", sig, rec)
		}
	}
}
