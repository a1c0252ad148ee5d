package sock

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Names is how a Table turns host names into addresses. A numeric address
// and "localhost" need nothing; a name in the hosts file is read from it;
// any other name is a DNS query, which can take seconds. A caller with a
// scheduler of its own therefore asks NeedsLookup first, runs Lookup on a
// goroutine, and hands the answer to Remember before making the call; a
// name nobody looked up is looked up by the call itself, blocking.
//
// Set its fields before the table is used; after that Lookup is safe to
// call from any goroutine (it reads nothing the table's calls change).
type Names struct {
	// Resolver makes the DNS queries; nil means the system's resolver.
	Resolver *net.Resolver
	// HostsFile is read before DNS is asked; "" means /etc/hosts.
	HostsFile string

	known map[string][]netip.Addr // answers handed over by Remember
}

// maxKnown bounds the answers a table keeps: each is only needed by the
// call that looked it up.
const maxKnown = 64

// NeedsLookup returns the host of addr when a call on fd would ask DNS for
// it, or "" when it would not (a numeric address, localhost, a name in the
// hosts file, an AF_UNIX address, or one the call will reject anyway).
//
// With Allow set, such a name is refused with EACCES instead: an address
// looked up by DNS could lie anywhere, and the query itself is a message —
// the name's labels reach whoever serves its domain — so under Allow no
// query is sent at all.
func (t *Table) NeedsLookup(op string, fd int, addr string) (string, error) {
	e, err := t.Get(op, fd)
	if err != nil || e.Domain == unix.AF_UNIX {
		return "", nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !t.Names.needsDNS(host) {
		return "", nil
	}
	if len(t.Allow) > 0 {
		return "", t.Names.refuse(op, fd, addr, host)
	}
	return host, nil
}

// refuse is the error of a name that only DNS could answer, under Allow.
func (n *Names) refuse(op string, fd int, addr, host string) error {
	return &Error{Op: op, FD: fd, Addr: addr, Err: unix.EACCES,
		Detail: "host " + strconv.Quote(host) + " is not in " + n.hostsFile() +
			": with --allow only numeric addresses and names from the hosts file are used (no DNS query is sent)"}
}

// Remember hands the table the addresses Lookup found for host, for the
// calls that use it next.
func (t *Table) Remember(host string, addrs []netip.Addr) {
	n := &t.Names
	if n.known == nil || len(n.known) >= maxKnown {
		n.known = map[string][]netip.Addr{}
	}
	n.known[strings.ToLower(host)] = addrs
}

// Lookup asks DNS for host's addresses, until ctx ends. A name that does
// not resolve is EHOSTUNREACH; a lookup that ctx's deadline cut short is
// ETIMEDOUT, one that ctx cancelled EINTR.
func (n *Names) Lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	r := n.Resolver
	if r == nil {
		r = systemResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	switch {
	case err == nil && len(addrs) > 0:
		return addrs, nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, &Error{Op: "resolve", FD: -1, Addr: host, Err: unix.ETIMEDOUT, Detail: "lookup of host " + strconv.Quote(host) + " timed out"}
	case ctx.Err() != nil:
		return nil, &Error{Op: "resolve", FD: -1, Addr: host, Err: unix.EINTR, Detail: "lookup of host " + strconv.Quote(host) + " interrupted"}
	}
	return nil, &Error{Op: "resolve", FD: -1, Addr: host, Err: unix.EHOSTUNREACH, Detail: "cannot resolve host " + strconv.Quote(host)}
}

// systemResolver is the system's resolver, except that a query whose
// context ends stops waiting for its answer at once: Go's resolver would
// otherwise wait out its read deadline (5 s by default) after a lookup was
// cancelled or timed out.
var systemResolver = &net.Resolver{Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, address)
	if err == nil {
		context.AfterFunc(ctx, func() { c.Close() })
	}
	return c, err
}}

// needsDNS reports whether host is a name that only DNS can answer.
func (n *Names) needsDNS(host string) bool {
	if host == "" || host == "*" || strings.EqualFold(host, "localhost") {
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return false
	}
	return len(n.fromHostsFile(host)) == 0
}

func (n *Names) hostsFile() string {
	if n.HostsFile != "" {
		return n.HostsFile
	}
	return "/etc/hosts"
}

// fromHostsFile returns the addresses the hosts file gives host, in the
// file's order. The file is read each time: it is small, and an edit to it
// takes effect at once.
func (n *Names) fromHostsFile(host string) []netip.Addr {
	b, err := readFile(n.hostsFile())
	if err != nil {
		return nil
	}
	host = strings.TrimSuffix(host, ".")
	var addrs []netip.Addr
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		ip, err := netip.ParseAddr(fields[0])
		if err != nil {
			continue
		}
		for _, name := range fields[1:] {
			if strings.EqualFold(strings.TrimSuffix(name, "."), host) {
				addrs = append(addrs, ip)
				break
			}
		}
	}
	return addrs
}

// readFile reads a small file with plain syscalls: an os.File would start
// the Go runtime's network poller, whose descriptors would take the low
// numbers kept for the session's sockets.
func readFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var b []byte
	buf := make([]byte, 4096)
	for len(b) < 1<<20 {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if n <= 0 || err != nil {
			break
		}
		b = append(b, buf[:n]...)
	}
	return b, nil
}

// addrsOf returns what the table knows of host without asking DNS: the
// hosts file's addresses, else what Remember handed over.
func (n *Names) addrsOf(host string) []netip.Addr {
	if addrs := n.fromHostsFile(host); len(addrs) > 0 {
		return addrs
	}
	return n.known[strings.ToLower(host)]
}
