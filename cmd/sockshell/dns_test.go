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

// TestDNSQueryDnsmasq runs scripts/dns_query.lua against a real DNS
// server, dnsmasq on loopback, that answers example.test and its
// subdomains with 192.0.2.1 and no other name. Skipped where
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
	exited := make(chan struct{})
	go func() { server.Wait(); close(exited) }()
	t.Cleanup(func() {
		server.Process.Kill()
		<-exited
	})
	dnsmasqLog := func() string { b, _ := os.ReadFile(logFile); return string(b) }
	waitDNS(t, port, exited, dnsmasqLog)

	addr := "127.0.0.1:" + strconv.Itoa(port)
	for _, tt := range []struct{ name, want string }{
		{"example.test", "answer: example.test A ttl 0 192.0.2.1"},
		{"www.example.test", "answer: www.example.test A ttl 0 192.0.2.1"},
		{"nosuch.invalid", "questions 1, answers 0"}, // REFUSED, or SERVFAIL from other versions
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

// waitDNS waits up to 10 s until the server on the UDP port answers a
// query (for the root's A record).
func waitDNS(t *testing.T, port int, exited <-chan struct{}, log func() string) {
	query := []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1}
	reply := make([]byte, 512)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			t.Fatalf("dnsmasq exited:\n%s", log())
		default:
		}
		c, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(200 * time.Millisecond))
		_, err = c.Write(query)
		if err == nil {
			var n int
			if n, err = c.Read(reply); err == nil && n >= 12 {
				c.Close()
				return
			}
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("dnsmasq did not answer on UDP port %d in 10 s:\n%s", port, log())
}
