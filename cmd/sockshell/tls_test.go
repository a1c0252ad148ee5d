package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHTTPSGetOpenSSL runs scripts/https_get.lua against openssl s_server
// -www with a CA and a server certificate that openssl req makes, with
// --log - on: the GET and the answer go through TLS, and the log shows
// them as plaintext. Skipped where openssl is missing (.ci/run installs
// it).
func TestHTTPSGetOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	openssl := func(args ...string) {
		t.Helper()
		cmd := exec.Command("openssl", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
		"-out", "ca.pem", "-subj", "/CN=sockshell test CA", "-days", "1")
	openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "srv.key",
		"-out", "srv.csr", "-subj", "/CN=localhost")
	if err := os.WriteFile(filepath.Join(dir, "ext"), []byte("subjectAltName=DNS:localhost,IP:127.0.0.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem",
		"-days", "1", "-extfile", "ext")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	server := exec.Command("openssl", "s_server", "-accept", addr, "-cert", "srv.pem", "-key", "srv.key", "-www", "-quiet")
	server.Dir = dir
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { server.Process.Kill(); server.Wait() }()
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i == 100 {
			t.Fatal("openssl s_server does not listen")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sockshell", "--log", "-", "scripts/https_get.lua", "localhost:"+strconv.Itoa(port)+"/", filepath.Join(dir, "ca.pem"))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sockshell scripts/https_get.lua: %v\n%s", err, out)
	}
	for _, want := range []string{"tls:   TLS 1.3", "server CN=localhost", "got:   HTTP/1.0 200 ok",
		" fd 3 > 58 bytes\n  \"GET / HTTP/1.0\\r\\n\"\n  \"Host: localhost\\r\\n\"\n", " fd 3 < ", "  \"HTTP/1.0 200 ok\\r\\n\"\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}
