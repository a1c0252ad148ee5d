package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tcpPort returns a TCP port on 127.0.0.1 that nobody listens on now.
func tcpPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// httpServer starts python3 -m http.server on 127.0.0.1:port serving dir,
// and returns once it answers.
func httpServer(t *testing.T, dir string, port int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", dir, fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatal("python3 -m http.server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// started runs sockshell ARGS in dir and returns once it has written a line
// to stderr starting with ready (the proxy and the mock server say where
// they listen; probing the port would be a connection of theirs). Its
// stderr goes on into the file whose name it returns.
func started(t *testing.T, dir, ready string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command("sockshell", args...)
	cmd.Dir = dir
	f, err := os.CreateTemp(dir, "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		b, _ := os.ReadFile(f.Name())
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			if !strings.HasPrefix(string(b), ready) {
				t.Fatalf("sockshell %q: %s", args, b)
			}
			return cmd, f.Name()
		}
		if time.Now().After(deadline) {
			t.Fatalf("sockshell %q did not start", args)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func curl(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", "-sS", "--max-time", "15", url).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v: %s", url, err, out)
	}
	return string(out)
}

// TestProxyAndMock records curl fetching from python3's http.server through
// sockshell --proxy, three clients at once; then serves curl the recorded
// server side with the server stopped (sockshell --as server), and plays
// the recorded client side against the real server again (--as client).
func TestProxyAndMock(t *testing.T) {
	for _, tool := range []string{"python3", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	os.Mkdir(www, 0o755)
	const body = "hello from the real server\n"
	os.WriteFile(filepath.Join(www, "index.html"), []byte(body), 0o644)
	up, port := tcpPort(t), tcpPort(t)
	server := httpServer(t, www, up)
	url := fmt.Sprintf("http://127.0.0.1:%d/index.html", port)

	proxy, _ := started(t, dir, "proxy: 127.0.0.1:", "--proxy", fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", up), "--record", "rec.lua")
	const clients = 3
	var wg sync.WaitGroup
	bodies := make([]string, clients)
	for i := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); bodies[i] = curl(t, url) }()
	}
	wg.Wait()
	for i, b := range bodies {
		if b != body {
			t.Errorf("through the proxy, client %d got %q", i, b)
		}
	}
	// The recording is a complete script after every call: kill -9 is
	// one way to stop the proxy.
	proxy.Process.Signal(syscall.SIGKILL)
	proxy.Wait()
	rec, _ := os.ReadFile(filepath.Join(dir, "rec.lua"))
	if n := strings.Count(string(rec), "expect(recvn("); n < 2*clients {
		t.Fatalf("the recording checks %d receives; want both directions of %d connections:\n%s", n, clients, rec)
	}

	// The server side, the server stopped: curl gets the recorded pages.
	server.Process.Kill()
	server.Wait()
	mock, _ := started(t, dir, "mock server: 127.0.0.1:", "--as", "server", "rec.lua")
	for i := range clients {
		if b := curl(t, url); b != body {
			t.Errorf("from the mock, client %d got %q", i, b)
		}
	}
	if err := mock.Wait(); err != nil {
		t.Errorf("sockshell --as server: %v", err)
	}

	// A client that asks something else: the mock stops at the recording's
	// line, with both values.
	mock, stderr := started(t, dir, "mock server: 127.0.0.1:", "--as", "server", "rec.lua")
	exec.Command("curl", "-sS", "--max-time", "5", fmt.Sprintf("http://127.0.0.1:%d/other.html", port)).Run()
	err := mock.Wait()
	errs, _ := os.ReadFile(stderr)
	want := regexp.MustCompile(`(?m)^rec\.lua:\d+: expected "GET /index\.html HTTP/1\.1\\r\\n.*", got "GET /other\.html HTTP/1\.1\\r\\n`)
	if err == nil || !want.MatchString(string(errs)) {
		t.Errorf("mock of a different request: %v; stderr:\n%s", err, errs)
	}

	// The client side against the real server again: only its Date header
	// may differ (--lenient reports it and goes on).
	httpServer(t, www, up)
	out, err := exec.Command("sockshell", "--as", "client", filepath.Join(dir, "rec.lua"), "--lenient").CombinedOutput()
	if err != nil {
		t.Fatalf("sockshell --as client: %v\n%s", err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !strings.Contains(l, "Date: ") {
			t.Errorf("--as client reported %q", l)
		}
	}
}
