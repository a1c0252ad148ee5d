package sock_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sockshell/internal/dnstest"
	"sockshell/sock"
)

// hostsFile writes a hosts file for the test and returns its path.
func hostsFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hosts")
	src := "# a comment\n127.0.0.1 localhost\n127.0.0.5  svc.hosts.test svc-alias # trailing comment\n::1 ip6-localhost\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNeedsLookup: only a name that neither is numeric nor localhost nor in
// the hosts file needs DNS; an AF_UNIX address never does.
func TestNeedsLookup(t *testing.T) {
	tab := newTable(t)
	tab.Names.HostsFile = hostsFile(t)
	in := socket(t, tab, "inet", "stream")
	un := socket(t, tab, "unix", "stream")
	for _, tc := range []struct {
		fd         int
		addr, want string
	}{
		{in, "127.0.0.1:80", ""},
		{in, "[::1]:80", ""},
		{in, "localhost:80", ""},
		{in, ":80", ""},
		{in, "*:80", ""},
		{in, "svc.hosts.test:80", ""},
		{in, "SVC-Alias.:80", ""},
		{in, "svc.example.test:80", "svc.example.test"},
		{in, "not an address", ""},
		{un, "/tmp/x.example.test:80", ""},
	} {
		got, err := tab.NeedsLookup("connect", tc.fd, tc.addr)
		if got != tc.want || err != nil {
			t.Errorf("NeedsLookup(%q) = %q, %v; want %q", tc.addr, got, err, tc.want)
		}
	}
}

// TestHostsFile: a name in the hosts file is its address there, with no
// DNS query.
func TestHostsFile(t *testing.T) {
	dns := dnstest.Start(t, map[string]netip.Addr{})
	tab := newTable(t)
	tab.Names = sock.Names{Resolver: dns.Resolver(), HostsFile: hostsFile(t)}
	fd := socket(t, tab, "inet", "dgram")
	if err := tab.Bind(fd, "svc.hosts.test:0"); err != nil {
		t.Fatal(err)
	}
	if in := info(t, tab, fd); netip.MustParseAddrPort(in.Local).Addr() != netip.MustParseAddr("127.0.0.5") {
		t.Errorf("bound to %s, want 127.0.0.5", in.Local)
	}
	if q := dns.Queries(); len(q) != 0 {
		t.Errorf("queries sent: %q", q)
	}
}

// TestAllowSendsNoQuery: under Allow, a name only DNS could answer is
// EACCES before any query leaves — from NeedsLookup, and from the calls
// themselves when nobody asked first — while hosts-file names still work.
func TestAllowSendsNoQuery(t *testing.T) {
	dns := dnstest.Start(t, map[string]netip.Addr{"secret.attacker.test": netip.MustParseAddr("127.0.0.1")})
	tab := newTable(t)
	tab.Names = sock.Names{Resolver: dns.Resolver(), HostsFile: hostsFile(t)}
	tab.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	fd := socket(t, tab, "inet", "stream")
	u := socket(t, tab, "inet", "dgram")
	const addr = "secret.attacker.test:80"
	_, err := tab.NeedsLookup("connect", fd, addr)
	wantErr(t, err, "EACCES", " secret.attacker.test:80: EACCES: ", `host "secret.attacker.test" is not in `, "no DNS query is sent")
	wantErr(t, tab.Connect(fd, addr), "EACCES", "connect", "no DNS query is sent")
	_, err = tab.SendTo(u, "x", addr)
	wantErr(t, err, "EACCES", "sendto", "no DNS query is sent")
	wantErr(t, tab.Bind(u, addr), "EACCES", "bind", "no DNS query is sent")
	if err := tab.Bind(u, "svc.hosts.test:0"); err != nil {
		t.Errorf("a hosts-file name under Allow: %v", err)
	}
	time.Sleep(50 * time.Millisecond) // a query on its way would have arrived
	if q := dns.Queries(); len(q) != 0 {
		t.Errorf("queries sent under Allow: %q", q)
	}
}

// TestLookupRemember: Lookup asks DNS; what Remember hands the table is
// used by the next call without another query.
func TestLookupRemember(t *testing.T) {
	dns := dnstest.Start(t, map[string]netip.Addr{"svc.example.test": netip.MustParseAddr("127.0.0.7")})
	tab := newTable(t)
	tab.Names = sock.Names{Resolver: dns.Resolver(), HostsFile: hostsFile(t)}
	addrs, err := tab.Names.Lookup(context.Background(), "svc.example.test")
	if err != nil || len(addrs) != 1 || addrs[0] != netip.MustParseAddr("127.0.0.7") {
		t.Fatalf("Lookup = %v, %v; want [127.0.0.7]", addrs, err)
	}
	asked := len(dns.Queries())
	tab.Remember("svc.example.test", addrs)
	fd := socket(t, tab, "inet", "dgram")
	if err := tab.Bind(fd, "SVC.example.test:0"); err != nil {
		t.Fatal(err)
	}
	if in := info(t, tab, fd); netip.MustParseAddrPort(in.Local).Addr() != addrs[0] {
		t.Errorf("bound to %s, want 127.0.0.7", in.Local)
	}
	if q := dns.Queries(); len(q) != asked {
		t.Errorf("the call asked again: %q", q[asked:])
	}

	_, err = tab.Names.Lookup(context.Background(), "unknown.example.test")
	wantErr(t, err, "EHOSTUNREACH", `cannot resolve host "unknown.example.test"`)
}

// TestLookupDeadline: a lookup from a resolver that never answers ends at
// the context's deadline with ETIMEDOUT, and on cancellation with EINTR.
func TestLookupDeadline(t *testing.T) {
	dns := dnstest.Start(t, nil)
	names := &sock.Names{Resolver: dns.Resolver()}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := names.Lookup(ctx, "silent.example.test")
	if d := time.Since(start); d < 190*time.Millisecond || d > 2*time.Second {
		t.Errorf("the lookup took %v, want about 200ms", d)
	}
	wantErr(t, err, "ETIMEDOUT", `lookup of host "silent.example.test" timed out`)
	if len(dns.Queries()) == 0 {
		t.Error("no query reached the server")
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = names.Lookup(ctx, "silent.example.test")
	wantErr(t, err, "EINTR", "interrupted")
}
