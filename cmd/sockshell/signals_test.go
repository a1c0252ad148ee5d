package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// busyLoops are Lua that computes without ever waiting again, after one
// wait (which starts a script's signal watch).
var busyLoops = map[string]string{
	"loop":  `sleep(0.05) print("busy") while true do end`,
	"task":  `spawn(function() print("busy") while true do end end) sleep(0.05) while true do sleep(1) end`,
	"pcall": `sleep(0.05) print("busy") while true do pcall(function() while true do end end) end`,
	"calls": `sleep(0.05) print("busy") local n = 0 while true do n = n + #hex("x") end`,
}

// TestSignalsEndBusySessions: SIGINT, SIGTERM and SIGHUP end a script, a
// -e chunk and a piped session promptly whatever Lua is doing, with exit
// status 128+signal and no Go trace.
func TestSignalsEndBusySessions(t *testing.T) {
	dir := t.TempDir()
	for name, src := range busyLoops {
		script := filepath.Join(dir, name+".lua")
		if err := os.WriteFile(script, []byte(src+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, mode := range []string{"script", "chunk", "piped"} {
			for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
				t.Run(name+"/"+mode+"/"+sig.String(), func(t *testing.T) {
					t.Parallel()
					var cmd *exec.Cmd
					switch mode {
					case "script":
						cmd = exec.Command("sockshell", script)
					case "chunk":
						cmd = exec.Command("sockshell", "-e", src)
					case "piped":
						cmd = exec.Command("sockshell")
						cmd.Stdin = strings.NewReader(src + "\n")
					}
					endsOnSignal(t, cmd, sig)
				})
			}
		}
	}
}

// endsOnSignal starts cmd, lets it get busy, sends sig and checks that it
// ends soon with 128+sig and says nothing of Go.
func endsOnSignal(t *testing.T, cmd *exec.Cmd, sig syscall.Signal) string {
	t.Helper()
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Past the first wait, into the loop.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "busy"); {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("never busy; the output is %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	cmd.Process.Signal(sig)
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("still running 10 s after %v", sig)
	}
	t.Logf("ended %v after %v", time.Since(start).Round(time.Millisecond), sig)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 128+int(sig) {
		t.Errorf("after %v: %v; want exit status %d", sig, err, 128+int(sig))
	}
	for _, s := range []string{"goroutine ", "panic", ".go:"} {
		if strings.Contains(out.String(), s) {
			t.Errorf("output mentions %q:\n%s", s, out.String())
		}
	}
	return out.String()
}

// TestSignalFinishesRecording: a recorded script killed by SIGTERM while
// computing still ends its recording with the closing line.
func TestSignalFinishesRecording(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec.lua")
	cmd := exec.Command("sockshell", "--record", rec, "-e", `local s = socket("inet", "dgram") sleep(0.05) print("busy") while true do end`)
	endsOnSignal(t, cmd, syscall.SIGTERM)
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `socket("inet", "dgram")`) || !strings.Contains(string(b), "-- end of recording") {
		t.Errorf("the recording is not finished:\n%s", b)
	}
}

// TestQuitSignal: Ctrl-\ (SIGQUIT) ends a waiting session like SIGTERM,
// with no dump of goroutines.
func TestQuitSignal(t *testing.T) {
	cmd := exec.Command("sockshell", "-e", `local s = socket("inet", "dgram") bind(s, "127.0.0.1:0") sleep(0.01) print("busy") recvfrom(s, 10, 60)`)
	endsOnSignal(t, cmd, syscall.SIGQUIT)
}

// syncBuffer is a strings.Builder that a process's output and the test
// may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
