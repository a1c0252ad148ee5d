package sock

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ParseAddr parses an address in the shell's ADDR syntax for a socket of the
// given domain (unix.AF_INET, unix.AF_INET6 or unix.AF_UNIX):
// "host:port", "[v6addr]:port", "/path", "unix:rel/path" or "@abstract".
// An empty host or "*" means any address; port 0 lets the kernel pick.
// A host name is looked up in the hosts file, then by DNS, blocking.
func ParseAddr(domain int, s string) (unix.Sockaddr, error) {
	return parseAddr(domain, s, &Names{}, nil)
}

// parseAddr is ParseAddr with the table's names; with allow set, a name
// only DNS could answer is refused (see NeedsLookup).
func (t *Table) parseAddr(domain int, s string) (unix.Sockaddr, error) {
	return parseAddr(domain, s, &t.Names, t.Allow)
}

func parseAddr(domain int, s string, names *Names, allow []netip.Prefix) (unix.Sockaddr, error) {
	if domain == unix.AF_UNIX {
		switch {
		case strings.HasPrefix(s, "unix:") && len(s) > len("unix:") && s != "unix:@":
			s = s[len("unix:"):]
		case s == "" || s == "@" || (s[0] != '/' && s[0] != '@' && s[0] != '.'):
			return nil, errAddr(s, "a path (/tmp/s.sock, unix:rel/path) or @name")
		}
		if len(s) > 107 {
			return nil, errAddr(s, "a path of at most 107 bytes")
		}
		return &unix.SockaddrUnix{Name: s}, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return nil, errAddr(s, "host:port or [v6addr]:port")
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		if p, err = lookupPort(port); err != nil {
			return nil, errAddr(s, "a port from 0 to 65535")
		}
	}
	ip, err := resolve(domain, host, names, allow)
	if err != nil {
		return nil, err
	}
	if domain == unix.AF_INET6 {
		sa := &unix.SockaddrInet6{Port: int(p), Addr: ip.As16()}
		if ip.Zone() != "" {
			if ifi, err := net.InterfaceByName(ip.Zone()); err == nil {
				sa.ZoneId = uint32(ifi.Index)
			}
		}
		return sa, nil
	}
	return &unix.SockaddrInet4{Port: int(p), Addr: ip.As4()}, nil
}

func lookupPort(name string) (uint64, error) {
	p, err := net.LookupPort("tcp", name)
	return uint64(p), err
}

// resolve turns a host into an address of the domain's family.
func resolve(domain int, host string, names *Names, allow []netip.Prefix) (netip.Addr, error) {
	if host == "" || host == "*" {
		if domain == unix.AF_INET6 {
			return netip.IPv6Unspecified(), nil
		}
		return netip.IPv4Unspecified(), nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return fitFamily(domain, ip, host)
	}
	if strings.EqualFold(host, "localhost") { // RFC 6761: the family's loopback
		if domain == unix.AF_INET6 {
			return netip.IPv6Loopback(), nil
		}
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	ips := names.addrsOf(host)
	if len(ips) == 0 {
		if len(allow) > 0 {
			return netip.Addr{}, names.refuse("resolve", -1, host, host)
		}
		var err error
		if ips, err = names.Lookup(context.Background(), host); err != nil {
			return netip.Addr{}, err
		}
	}
	for _, a := range ips { // first choice: an address of the socket's own family
		if a.Unmap().Is6() == (domain == unix.AF_INET6) {
			return fitFamily(domain, a.Unmap(), host)
		}
	}
	for _, a := range ips {
		if a, err := fitFamily(domain, a.Unmap(), host); err == nil {
			return a, nil
		}
	}
	return netip.Addr{}, errAddr(host, familyName(domain)+" address")
}

func fitFamily(domain int, ip netip.Addr, host string) (netip.Addr, error) {
	if domain == unix.AF_INET6 {
		return netip.AddrFrom16(ip.As16()).WithZone(ip.Zone()), nil
	}
	ip = ip.Unmap()
	if !ip.Is4() {
		return netip.Addr{}, errAddr(host, "an IPv4 address for an inet socket (use an inet6 socket for IPv6)")
	}
	return ip, nil
}

func familyName(domain int) string {
	if domain == unix.AF_INET6 {
		return "an IPv6"
	}
	return "an IPv4"
}

func errAddr(s, want string) error {
	return &Error{Op: "address", FD: -1, Err: unix.EINVAL, Detail: "bad address " + strconv.Quote(s) + ": expected " + want}
}

// FormatAddr prints an address in the ADDR syntax: "127.0.0.1:8080",
// "[::1]:8080", "/tmp/s.sock", "@name". An unnamed AF_UNIX socket is "".
func FormatAddr(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(a.Addr)
		if a.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				ip = ip.WithZone(ifi.Name)
			}
		}
		return netip.AddrPortFrom(ip, uint16(a.Port)).String()
	case *unix.SockaddrUnix:
		if a.Name == "@" { // x/sys/unix's name for an unnamed socket
			return ""
		}
		if a.Name != "" && !strings.ContainsRune("/@.", rune(a.Name[0])) { // a relative path
			return "unix:" + a.Name
		}
		return a.Name
	}
	return ""
}
