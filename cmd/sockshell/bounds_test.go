package main

import (
	"bufio"
	"fmt"
	"os/exec"
	"sockshell/internal/testpeer"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFloodStaysSmall: sockshell reading 1 GB without a newline through
// recvline stays under 100 MB, each call failing at the limit within its
// timeout.
func TestFloodStaysSmall(t *testing.T) {
	const size = 1 << 30
	addr := testpeer.Flooder(t, size)
	cmd := exec.Command("sockshell", "-e", fmt.Sprintf(`
local c = socket("inet", "stream")
assert(connect(c, %q))
local total, slowest, msg = 0, 0
while total < %d do
  local t0 = now()
  local line, m, code = recvline(c, 1)
  slowest = math.max(slowest, now() - t0)
  if code ~= "EMSGSIZE" then error("recvline: " .. tostring(line) .. " " .. tostring(m)) end
  msg = m
  total = total + #recv(c, 4194304)
end
print(total, slowest < 3, msg) -- within its 1 s timeout, with room for a loaded machine
`, addr, size))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sockshell: %v\n%s", err, out)
	}
	if want := fmt.Sprintf(`%d	true	recvline 3: EMSGSIZE: no "\n" in the first 4194304 bytes (limit: maxrecv)`, size); !strings.HasPrefix(string(out), want) {
		t.Errorf("output %q; want it to start %q", out, want)
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
	t.Logf("peak RSS %d MB", rss>>20)
	if rss > memoryFactor*100<<20 {
		t.Errorf("sockshell reading a 1 GB flood peaked at %d MB; want under %d MB", rss>>20, memoryFactor*100)
	}
}

// TestTermDuringFlood: SIGTERM ends a script that reads a peer flooding
// without end, cleanly and at once.
func TestTermDuringFlood(t *testing.T) {
	addr := testpeer.Flooder(t, -1)
	cmd := exec.Command("sockshell", "-e", fmt.Sprintf(`
local c = socket("inet", "stream")
assert(connect(c, %q))
sleep(0.01)
print("flooded")
while true do
  recvline(c, 30)
  recv(c, 4194304)
end
`, addr))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "flooded\n" {
		t.Fatalf("the script did not start reading: %q %v", line, err)
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Logf("ended %v after SIGTERM: %v", time.Since(start), err)
		if code := cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGTERM) {
			t.Errorf("exit status %d; want %d", code, 128+int(syscall.SIGTERM))
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("sockshell reading a flood ignored SIGTERM")
	}
}
