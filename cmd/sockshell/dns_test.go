package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDNSQueryDnsmasq runs scripts/dns_query.lua against a real DNS
// server, dnsmasq on loopback, that answers example.test and its
// subdomains with 192.0.2.1 and refuses every other name. Skipped where
// dnsmasq is not installed (.ci/run installs dnsmasq-base).
func TestDNSQueryDnsmasq(t *testing.T) {
	dnsmasq, err := exec.LookPath("dnsmasq")
	if err != nil {
		dnsmasq, err = exec.LookPath("/usr/sbin/dnsmasq") // sbin may be off the PATH
	}
	if err != nil {
		t.Skip("dnsmasq is not installed")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	port := freeUDPPort(t)
	// -d: in the foreground, no pid file, no change of user.
	server := exec.Command(dnsmasq, "-d", "--port="+strconv.Itoa(port),
		"--listen-address=127.0.0.1", "--bind-interfaces", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--address=/example.test/192.0.2.1")
	logFile := filepath.Join(t.TempDir(), "dnsmasq.log")
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	server.Stdout, server.Stderr = log, log
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		server.Process.Kill()
		server.Wait()
	})
	dnsmasqLog := func() string { b, _ := os.ReadFile(logFile); return string(b) }
	waitUDPBound(t, port, dnsmasqLog)

	addr := "127.0.0.1:" + strconv.Itoa(port)
	for _, tt := range []struct{ name, want string }{
		{"example.test", "answer: example.test A ttl 0 192.0.2.1"},
		{"www.example.test", "answer: www.example.test A ttl 0 192.0.2.1"},
		{"nosuch.invalid", "REFUSED; questions 1, answers 0"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
		cmd := exec.CommandContext(ctx, "sockshell", "scripts/dns_query.lua", addr, tt.name)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("sockshell scripts/dns_query.lua %s %s: %v\n%s\ndnsmasq:\n%s", addr, tt.name, err, out, dnsmasqLog())
		}
		if !strings.Contains(string(out), tt.want) {
			t.Errorf("query for %s: no line %q in\n%s", tt.name, tt.want, out)
		}
	}
}

func freeUDPPort(t *testing.T) int {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// waitUDPBound waits up to 10 s until something has bound the UDP port.
func waitUDPBound(t *testing.T, port int, log func() string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(port))
		if errors.Is(err, unix.EADDRINUSE) {
			return
		} else if err != nil {
			t.Fatal(err)
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("dnsmasq did not bind UDP port %d in 10 s:\n%s", port, log())
}
