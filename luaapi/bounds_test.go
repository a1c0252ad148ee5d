package luaapi

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sockshell/internal/testpeer"
	"strconv"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// The receive helpers are bounded against any peer: a peer that floods
// without a delimiter costs a limit of memory, never stalls the other
// tasks, and never holds a call past its timeout.

// procStatus reads a field of /proc/self/status, in bytes.
func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("/proc/self/status has no %s", field)
	return 0
}

// floodLoop is a chunk that reads a flood from the peer at $addr through
// recvline until $size bytes have come: each call fails with EMSGSIZE at
// the limit, within its timeout, and recv takes what it kept. A ticker task meanwhile measures
// how late its sleeps end.
const floodLoop = `
local c = socket("inet", "stream")
assert(connect(c, $addr))
local done, late = false, 0
local ticker = spawn(function()
  while not done do
    local t0 = now()
    sleep(0.01)
    late = math.max(late, now() - t0 - 0.01)
  end
end)
local total, calls, slowest, msg, code = 0, 0, 0
while total < $size do
  local t0 = now()
  local line
  line, msg, code = recvline(c, 1)
  slowest = math.max(slowest, now() - t0)
  calls = calls + 1
  if code ~= "EMSGSIZE" then error("recvline: " .. tostring(line) .. " " .. tostring(msg)) end
  total = total + #recv(c, 4194304)
end
done = true
wait(ticker)
close(c)
return total, calls, slowest, late, msg
`

// TestFloodWithoutDelimiter: 1 GB without a newline goes through
// recvline a limit at a time; the process stays small, each call fails
// within its timeout and the other task runs on time.
func TestFloodWithoutDelimiter(t *testing.T) {
	const size = 1 << 30
	addr := testpeer.Flooder(t, size)
	s := newSession(t, Config{})
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	base := procStatus(t, "VmHWM")
	src := strings.NewReplacer("$addr", strconv.Quote(addr), "$size", strconv.Itoa(size)).Replace(floodLoop)
	res := s.ok(src)
	peak := procStatus(t, "VmHWM")
	if len(res) != 5 {
		t.Fatalf("results %s", showAll(res))
	}
	total, calls := int(res[0].(lua.LNumber)), int(res[1].(lua.LNumber))
	slowest, late := float64(res[2].(lua.LNumber)), float64(res[3].(lua.LNumber))
	t.Logf("%d bytes in %d calls; slowest call %.3fs; ticker at most %.3fs late; peak RSS %d MB over %d MB",
		total, calls, slowest, late, (peak-base)>>20, base>>20)
	if total != size {
		t.Errorf("%d bytes came through, want %d", total, size)
	}
	if want := fmt.Sprintf(`no "\n" in the first %d bytes (limit: maxrecv)`, 4<<20); !strings.Contains(res[4].String(), want) {
		t.Errorf("message %q; want it to say %s", res[4], want)
	}
	if slowest >= 1 {
		t.Errorf("a recvline with a 1 s timeout took %.2fs", slowest)
	}
	if late > 0.5 {
		t.Errorf("the ticker task was %.2fs late: the flood held up the scheduler", late)
	}
	if peak-base > memoryFactor*100<<20 {
		t.Errorf("the peak RSS grew by %d MB reading the flood; want under %d MB", (peak-base)>>20, memoryFactor*100)
	}
}

// TestFloodTimeout: with a limit the flood does not reach first, the
// call's timeout holds although the kernel never runs dry, and the other
// task goes on meanwhile.
func TestFloodTimeout(t *testing.T) {
	addr := testpeer.Flooder(t, -1)
	res := runOK(t, fmt.Sprintf(`
local c = socket("inet", "stream")
assert(connect(c, %q))
local ticks = 0
local ticker = spawn(function() while true do sleep(0.005) ticks = ticks + 1 end end)
local t0 = now()
local line, msg, code = recvuntil(c, "\n", 0.1, 256 * 1048576)
local took = now() - t0
kill(ticker)
close(c)
return code, took, ticks, msg
`, addr))
	if len(res) != 4 {
		t.Fatalf("results %s", showAll(res))
	}
	code, took, ticks := res[0].String(), float64(res[1].(lua.LNumber)), int(res[2].(lua.LNumber))
	t.Logf("%s after %.3fs (%s); the ticker ticked %d times", code, took, res[3], ticks)
	if code != "ETIMEDOUT" && code != "EMSGSIZE" {
		t.Errorf("recvuntil under a flood: %s, want ETIMEDOUT (or EMSGSIZE on a machine that reads 256 MiB in 0.1 s)", res[3])
	}
	if took > 1 {
		t.Errorf("recvuntil with a 0.1 s timeout took %.2fs under a flood", took)
	}
	if code == "ETIMEDOUT" && ticks == 0 {
		t.Errorf("the ticker never ran while recvuntil read the flood")
	}
}

// TestDatagramThroughHelpers: a 100 KiB AF_UNIX datagram comes through
// recvframe, recvn and recvline whole; recvfrom with a short MAX says how
// long the datagram it cut was.
func TestDatagramThroughHelpers(t *testing.T) {
	dir := t.TempDir()
	res := runOK(t, fmt.Sprintf(`
local a, b = socket("unix", "dgram"), socket("unix", "dgram")
assert(bind(a, %q))
assert(bind(b, %q))
assert(connect(a, getsockname(b)))
assert(setopt(a, "sndbuf", 1048576))
local big = ("0123456789abcdef"):rep(6400) -- 100 KiB
assert(sendframe(a, big))
local f = recvframe(b, 1)
assert(send(a, big))
local n = recvn(b, #big, 1)
assert(sendline(a, big))
local l = recvline(b, 1)
assert(send(a, big))
local cut, _, whole = recvfrom(b, 1000)
return #big, f == big, n == big, l == big, #cut, whole
`, dir+"/a", dir+"/b"))
	wantResults(t, res, `(102400, true, true, true, 1000, 102400)`)
}
