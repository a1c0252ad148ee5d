package sock_test

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"sockshell/internal/dnstest"
	"sockshell/sock"
)

var domainNames = map[int]string{unix.AF_INET: "inet", unix.AF_INET6: "inet6", unix.AF_UNIX: "unix"}

func TestParseAddr(t *testing.T) {
	long := "/" + strings.Repeat("a", 106) // 107 bytes: the most sun_path holds with its NUL
	for _, tc := range []struct {
		domain int
		in     string
		want   string // FormatAddr of the result; "" for an error
		errMsg string // for an error: what the message says was expected
	}{
		{unix.AF_INET, "127.0.0.1:8080", "127.0.0.1:8080", ""},
		{unix.AF_INET, "127.0.0.1:0", "127.0.0.1:0", ""},
		{unix.AF_INET, "10.1.2.3:65535", "10.1.2.3:65535", ""},
		{unix.AF_INET, ":8080", "0.0.0.0:8080", ""},
		{unix.AF_INET, "*:8080", "0.0.0.0:8080", ""},
		{unix.AF_INET, "localhost:80", "127.0.0.1:80", ""},
		{unix.AF_INET, "127.0.0.1:http", "127.0.0.1:80", ""},
		{unix.AF_INET, "[127.0.0.1]:1", "127.0.0.1:1", ""},
		{unix.AF_INET, "[::ffff:10.0.0.1]:1", "10.0.0.1:1", ""},
		{unix.AF_INET, "127.0.0.1", "", "expected host:port or [v6addr]:port"},
		{unix.AF_INET, "", "", "expected host:port or [v6addr]:port"},
		{unix.AF_INET, "1.2.3.4:80:90", "", "expected host:port or [v6addr]:port"},
		{unix.AF_INET, "::1:80", "", "expected host:port or [v6addr]:port"},
		{unix.AF_INET, "/tmp/s.sock", "", "expected host:port or [v6addr]:port"},
		{unix.AF_INET, "127.0.0.1:65536", "", "expected a port from 0 to 65535"},
		{unix.AF_INET, "127.0.0.1:-1", "", "expected a port from 0 to 65535"},
		{unix.AF_INET, "127.0.0.1:nosuchservice", "", "expected a port from 0 to 65535"},
		{unix.AF_INET, "[::1]:80", "", "expected an IPv4 address for an inet socket (use an inet6 socket for IPv6)"},
		{unix.AF_INET, "1.2.3.4.5:80", "", ""}, // not an address: looked up as a name, and fails

		{unix.AF_INET6, "[::1]:8080", "[::1]:8080", ""},
		{unix.AF_INET6, "[::]:0", "[::]:0", ""},
		{unix.AF_INET6, ":0", "[::]:0", ""},
		{unix.AF_INET6, "*:9", "[::]:9", ""},
		{unix.AF_INET6, "[2001:db8::1]:443", "[2001:db8::1]:443", ""},
		{unix.AF_INET6, "[fe80::1%lo]:80", "[fe80::1%lo]:80", ""},
		{unix.AF_INET6, "127.0.0.1:80", "[::ffff:127.0.0.1]:80", ""},
		// RFC 6761: localhost is the loopback address, ::1 for IPv6 —
		// not IPv4's loopback mapped, which a [::1] server never sees.
		{unix.AF_INET6, "localhost:80", "[::1]:80", ""},
		{unix.AF_INET6, "::1", "", "expected host:port or [v6addr]:port"},
		{unix.AF_INET6, "[::1]", "", "expected host:port or [v6addr]:port"},
		{unix.AF_INET6, "[::1]:65536", "", "expected a port from 0 to 65535"},

		{unix.AF_UNIX, "/tmp/s.sock", "/tmp/s.sock", ""},
		{unix.AF_UNIX, "./s.sock", "./s.sock", ""},
		{unix.AF_UNIX, "unix:rel/s.sock", "unix:rel/s.sock", ""},
		{unix.AF_UNIX, "unix:/abs.sock", "/abs.sock", ""},
		{unix.AF_UNIX, "@name", "@name", ""},
		{unix.AF_UNIX, long, long, ""},
		{unix.AF_UNIX, "s.sock", "", "expected a path (/tmp/s.sock, unix:rel/path) or @name"},
		{unix.AF_UNIX, "", "", "expected a path (/tmp/s.sock, unix:rel/path) or @name"},
		{unix.AF_UNIX, "unix:", "", "expected a path (/tmp/s.sock, unix:rel/path) or @name"},
		{unix.AF_UNIX, "127.0.0.1:80", "", "expected a path (/tmp/s.sock, unix:rel/path) or @name"},
		{unix.AF_UNIX, long + "a", "", "expected a path of at most 107 bytes"},
		{unix.AF_UNIX, "@" + strings.Repeat("n", 107), "", "expected a path of at most 107 bytes"},
		// "@" alone names nothing: it would print back as an unnamed
		// socket ("").
		{unix.AF_UNIX, "@", "", "expected a path (/tmp/s.sock, unix:rel/path) or @name"},
		{unix.AF_UNIX, "unix:@", "", "expected a path (/tmp/s.sock, unix:rel/path) or @name"},
	} {
		name := domainNames[tc.domain] + " " + tc.in
		sa, err := sock.ParseAddr(tc.domain, tc.in)
		if tc.want != "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			} else if got := sock.FormatAddr(sa); got != tc.want {
				t.Errorf("%s: formats as %q, want %q", name, got, tc.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: parsed as %q, want an error", name, sock.FormatAddr(sa))
			continue
		}
		if tc.errMsg == "" {
			continue // a lookup failure, whose code depends on the resolver
		}
		var e *sock.Error
		if !errors.As(err, &e) || !errors.Is(err, unix.EINVAL) || sock.Code(err) != "EINVAL" {
			t.Errorf("%s: %v, want EINVAL", name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.errMsg) || !strings.HasPrefix(err.Error(), "address: EINVAL: bad address ") {
			t.Errorf("%s: error %q, want it to say %q", name, err, tc.errMsg)
		}
	}
}

// TestParseAddrUnknownHost: a name no resolver knows is EHOSTUNREACH with
// a message naming it (asked of a DNS server on loopback that knows no
// names: no query leaves the machine).
func TestParseAddrUnknownHost(t *testing.T) {
	tab := newTable(t)
	tab.Names.Resolver = dnstest.Start(t, map[string]netip.Addr{}).Resolver()
	fd := socket(t, tab, "inet", "stream")
	err := tab.Connect(fd, "no-such-host.invalid:80")
	wantErr(t, err, "EHOSTUNREACH", `cannot resolve host "no-such-host.invalid"`)
}

func TestFormatAddr(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	fe80 := netip.MustParseAddr("fe80::1").As16()
	for _, tc := range []struct {
		sa   unix.Sockaddr
		want string
	}{
		{nil, ""},
		{&unix.SockaddrInet4{Port: 80, Addr: [4]byte{127, 0, 0, 1}}, "127.0.0.1:80"},
		{&unix.SockaddrInet4{}, "0.0.0.0:0"},
		{&unix.SockaddrInet6{Port: 8080, Addr: netip.IPv6Loopback().As16()}, "[::1]:8080"},
		{&unix.SockaddrInet6{Port: 1, Addr: fe80, ZoneId: uint32(lo.Index)}, "[fe80::1%lo]:1"},
		{&unix.SockaddrInet6{Port: 1, Addr: fe80, ZoneId: 1 << 30}, "[fe80::1]:1"}, // no such interface
		{&unix.SockaddrUnix{Name: "/tmp/s.sock"}, "/tmp/s.sock"},
		{&unix.SockaddrUnix{Name: "@abstract"}, "@abstract"},
		{&unix.SockaddrUnix{Name: ""}, ""},
		{&unix.SockaddrUnix{Name: "@"}, ""}, // how x/sys/unix names an unnamed socket
		{&unix.SockaddrUnix{Name: "rel.sock"}, "unix:rel.sock"},
		{&unix.SockaddrNetlink{}, ""},
	} {
		if got := sock.FormatAddr(tc.sa); got != tc.want {
			t.Errorf("FormatAddr(%#v) = %q, want %q", tc.sa, got, tc.want)
		}
	}
}

// FuzzParseAddr: ParseAddr never panics; it fails with an *Error saying
// what it expected, or it succeeds and FormatAddr prints something that
// parses again to the same address.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1:8080", "[::1]:0", ":80", "*:80", "localhost:0", "[fe80::1%lo]:1",
		"[::ffff:1.2.3.4]:5", "1.2.3.4:http", "1.2.3.4:", ":", "[]:1", "[::1%]:1",
		"/tmp/s.sock", "unix:rel", "unix:", "unix:@x", "unix:@", "./x", "@name", "@", "",
		"127.0.0.1:99999", "1:2:3", "[1.2.3.4]:1",
	} {
		for _, d := range []uint8{0, 1, 2} {
			f.Add(d, s)
		}
	}
	domains := []int{unix.AF_INET, unix.AF_INET6, unix.AF_UNIX}
	f.Fuzz(func(t *testing.T, d uint8, s string) {
		domain := domains[int(d)%len(domains)]
		if domain != unix.AF_UNIX && needsResolver(s) {
			t.Skip("host names go to the resolver; the parser is what is fuzzed")
		}
		sa, err := sock.ParseAddr(domain, s)
		if err != nil {
			var e *sock.Error
			if !errors.As(err, &e) {
				t.Fatalf("ParseAddr(%s, %q): %T %v, not a *sock.Error", domainNames[domain], s, err, err)
			}
			if code := sock.Code(err); code != "EINVAL" || !strings.Contains(err.Error(), "expected ") {
				t.Fatalf("ParseAddr(%s, %q): %v: want EINVAL saying what was expected", domainNames[domain], s, err)
			}
			return
		}
		printed := sock.FormatAddr(sa)
		sa2, err := sock.ParseAddr(domain, printed)
		if err != nil {
			t.Fatalf("ParseAddr(%s, %q) prints as %q, which does not parse: %v", domainNames[domain], s, printed, err)
		}
		if again := sock.FormatAddr(sa2); again != printed {
			t.Fatalf("ParseAddr(%s, %q) prints as %q, which parses to %q", domainNames[domain], s, printed, again)
		}
	})
}

// needsResolver reports whether parsing s would ask the system resolver,
// which is slow and outside the parser.
func needsResolver(s string) bool {
	host, _, err := net.SplitHostPort(s)
	if err != nil || host == "" || host == "*" || host == "localhost" {
		return false
	}
	_, err = netip.ParseAddr(host)
	return err != nil
}
