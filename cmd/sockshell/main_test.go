package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/script/*.txtar from what sockshell prints")

// TestMain makes the test binary double as sockshell, so that `exec
// sockshell` in a transcript runs this package's run in a child process.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) != "sockshell" {
		closeInheritedFDs()
		// A -race binary sleeps 1 s at exit by default: too long for the
		// hundreds of sockshell processes the tests start.
		if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
			os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
		}
	}
	testscript.Main(m, map[string]func(){
		"sockshell": func() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// closeInheritedFDs marks the descriptors this process inherited without
// close-on-exec (a parent shell's stray ones) close-on-exec, so that the
// sockshell processes the tests start get the kernel's lowest numbers for
// their sockets (3, 4, ...), as they would from a clean shell.
func closeInheritedFDs() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

// TestScript runs the transcripts in testdata/script: piped shell sessions,
// scripts, record and replay, and real programs (socat, nc) as peers.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Condition:           condition,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"freeport": cmdFreeport,
			"envsubst": cmdEnvsubst,
			"waitport": cmdWaitport,
		},
	})
}

// condition adds [ipv6]: the loopback ::1 can be bound; and [netns]: the
// tests are root and can make network and mount namespaces of their own.
func condition(cond string) (bool, error) {
	switch cond {
	case "netns":
		_, err := exec.LookPath("ip")
		return err == nil && os.Geteuid() == 0 && exec.Command("unshare", "--net", "--mount", "true").Run() == nil, nil
	case "ipv6":
		l, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			return false, nil
		}
		l.Close()
		return true, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

var (
	portsMu sync.Mutex
	ports   = map[int]bool{} // handed out already, so parallel scripts never share one
)

// cmdFreeport sets each named variable to a port, above 9999, that is free
// for TCP and UDP on 127.0.0.1 and was not handed out before.
//
//	freeport VAR...
func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: freeport VAR...")
	}
	for _, name := range args {
		ts.Setenv(name, strconv.Itoa(freePort(ts)))
	}
}

func freePort(ts *testscript.TestScript) int {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		ts.Check(err)
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
		}
		// Five digits, like every port the kernel picks by default, keep
		// the columns of an fds table in a cmpenv the same width.
		if err != nil || ports[port] || port < 10000 {
			continue
		}
		ports[port] = true
		return port
	}
	ts.Fatalf("freeport: no free port")
	return 0
}

// cmdEnvsubst replaces $VAR and ${VAR} in the named files by the
// variables of the script, so that a session piped to stdin can name a
// port that freeport chose.
//
//	envsubst FILE...
func cmdEnvsubst(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: envsubst FILE...")
	}
	for _, f := range args {
		s := os.Expand(ts.ReadFile(f), ts.Getenv)
		ts.Check(os.WriteFile(ts.MkAbs(f), []byte(s), 0o666))
	}
}

// cmdWaitport waits up to 10 s until a socket listens on ADDR: a TCP
// listener on the port, a UDP socket bound to it, an AF_UNIX stream
// listener or datagram socket on the path (as bound, or made absolute). It
// looks in /proc/net rather than connecting, so a server that accepts one
// connection is not disturbed.
//
//	waitport tcp|tcp6|udp|udp6 PORT
//	waitport unix PATH
func cmdWaitport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitport tcp|tcp6|udp|udp6 PORT | waitport unix PATH")
	}
	network, addr := args[0], args[1]
	var match func(fields []string) bool
	switch network {
	case "tcp", "tcp6", "udp", "udp6":
		port, err := strconv.Atoi(addr)
		ts.Check(err)
		local := fmt.Sprintf(":%04X", port)
		match = func(f []string) bool {
			// sl local_address rem_address st ...; 0A is TCP_LISTEN
			return len(f) > 3 && strings.HasSuffix(f[1], local) &&
				(network[:3] == "udp" || f[3] == "0A")
		}
	case "unix":
		path := ts.MkAbs(addr)
		match = func(f []string) bool {
			// Num RefCount Protocol Flags Type St Inode Path; flag
			// 00010000 is a listening stream socket, type 0002 a datagram one
			return len(f) == 8 && (f[7] == path || f[7] == addr) && (f[3] == "00010000" || f[4] == "0002")
		}
	default:
		ts.Fatalf("waitport: unknown network %q", network)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile("/proc/net/" + network)
		ts.Check(err)
		for _, line := range strings.Split(string(data), "\n") {
			if match(strings.Fields(line)) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("waitport: nothing listens on %s %s after 10s", network, addr)
}
