package sock

import (
	"errors"
	"net/netip"
	"slices"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Domains and types by the names the shell uses.
var (
	domains = map[string]int{"inet": unix.AF_INET, "inet6": unix.AF_INET6, "unix": unix.AF_UNIX}
	types   = map[string]int{"stream": unix.SOCK_STREAM, "dgram": unix.SOCK_DGRAM, "seqpacket": unix.SOCK_SEQPACKET}
)

// domainNames and typeNames list the accepted names, for help and completion.
var (
	domainNames = []string{"inet", "inet6", "unix"}
	typeNames   = []string{"stream", "dgram", "seqpacket"}
)

// DomainNames returns the socket domains Socket takes.
func DomainNames() []string { return slices.Clone(domainNames) }

// TypeNames returns the socket types Socket takes.
func TypeNames() []string { return slices.Clone(typeNames) }

// HowNames returns the directions Shutdown takes.
func HowNames() []string { return []string{"rd", "wr", "rdwr"} }

// Entry is one descriptor of the table.
type Entry struct {
	FD       int
	Domain   int // unix.AF_INET, AF_INET6 or AF_UNIX
	Type     int // unix.SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET
	Sent     int64
	Received int64

	// Timeout bounds each waiting call on this descriptor when the call
	// gives none; HasTimeout says it was set (settimeout).
	Timeout    time.Duration
	HasTimeout bool
	// Nonblock makes calls return EAGAIN instead of waiting.
	Nonblock bool

	bound, listening, connecting, connected bool
	shutRd, shutWr                          bool
	remote                                  unix.Sockaddr
	// path is the AF_UNIX file Bind made, removed by Close (as Go's
	// net.UnixListener does), so that the next session can bind it again.
	path string

	// pending holds bytes read from the kernel but not yet returned to the
	// caller (after a timeout, at end of stream, by a framing helper): the
	// next receive call returns them first.
	pending []byte
	// scanned is how far into pending a search for scanDelim has looked
	// without finding it: the next search goes on from there.
	scanned   int
	scanDelim string

	// layer, when set, carries the bytes instead of the bare syscalls:
	// TLS, a tap (layer.go). dialHost is the host connect was given,
	// the name TLS verifies by default.
	layer    *layer
	dialHost string

	// Host is where the socket was made (Table.Host then), "" for the
	// session's own network namespace.
	Host string
}

// State is the socket's state as the API sees it: created, bound,
// listening, connecting, connected, shut-rd, shut-wr or shut-rdwr.
func (e *Entry) State() string {
	switch {
	case e.shutRd && e.shutWr:
		return "shut-rdwr"
	case e.shutRd:
		return "shut-rd"
	case e.shutWr:
		return "shut-wr"
	case e.listening:
		return "listening"
	case e.connected:
		return "connected"
	case e.connecting:
		return "connecting"
	case e.bound:
		return "bound"
	}
	return "created"
}

// Buffered returns how many bytes wait in the entry's own buffer.
// That includes what TLS decrypted and did not return yet.
func (e *Entry) Buffered() int {
	if e.layer != nil && e.layer.tls != nil {
		return len(e.pending) + len(e.layer.tls.plain)
	}
	return len(e.pending)
}

// Table holds the sockets a session opened, indexed by the kernel's own
// descriptor numbers. It is not safe for concurrent use: one goroutine owns it.
type Table struct {
	entries []*Entry // indexed by fd; nil where the session has no socket
	count   int
	scratch []byte // receive buffer shared by all calls; results are copied out

	// DefaultTimeout bounds waiting calls that have no timeout of their own
	// and whose descriptor has none; 0 means wait as long as it takes.
	DefaultTimeout time.Duration
	// MaxRecv bounds one unit of a receive helper when the call gives no
	// limit of its own; 0 means DefaultMaxRecv.
	MaxRecv int

	wakefd int // eventfd used by Wait to be cancelled; 0 until first needed

	// Allow, when not empty, lists the networks that connect and sendto may
	// reach; any other inet or inet6 destination is refused with EACCES.
	// AF_UNIX destinations are not limited.
	Allow []netip.Prefix

	// Names turns host names into addresses (resolve.go).
	Names Names

	tap Tap // see SetTap

	// Make, when set, makes the sockets Socket makes, as socket(2) does:
	// in another network namespace, named Host. Accepted connections are
	// their listener's host's.
	Make func(domain, typ, proto int) (int, error)
	Host string
}

// permit checks a destination against Allow.
func (t *Table) permit(op string, fd int, addr string, sa unix.Sockaddr) error {
	if len(t.Allow) == 0 {
		return nil
	}
	var ip netip.Addr
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		ip = netip.AddrFrom4(a.Addr)
	case *unix.SockaddrInet6:
		ip = netip.AddrFrom16(a.Addr).Unmap()
	default:
		return nil
	}
	for _, p := range t.Allow {
		if p.Contains(ip) {
			return nil
		}
	}
	return &Error{Op: op, FD: fd, Addr: addr, Err: unix.EACCES, Detail: ip.String() + " is outside the networks --allow permits"}
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{} }

// Get returns the entry for fd, or an EBADF error naming op.
func (t *Table) Get(op string, fd int) (*Entry, error) {
	if fd >= 0 && fd < len(t.entries) {
		if e := t.entries[fd]; e != nil {
			return e, nil
		}
	}
	return nil, t.badFD(op, fd)
}

func (t *Table) badFD(op string, fd int) error {
	return &Error{Op: op, FD: fd, Err: unix.EBADF, Detail: "bad file descriptor (not a socket of this session)"}
}

// Len returns the number of open descriptors.
func (t *Table) Len() int { return t.count }

// FDs returns the open descriptors in increasing order.
func (t *Table) FDs() []int {
	fds := make([]int, 0, t.count)
	for fd, e := range t.entries {
		if e != nil {
			fds = append(fds, fd)
		}
	}
	return fds
}

func (t *Table) add(e *Entry) {
	for e.FD >= len(t.entries) {
		t.entries = append(t.entries, make([]*Entry, len(t.entries)+16)...)
	}
	t.entries[e.FD] = e
	t.count++
	if t.tap != nil {
		t.relayer(e)
	}
}

// Socket creates a socket. domain is "inet", "inet6" or "unix"; typ is
// "stream", "dgram" or "seqpacket" (AF_UNIX: a connection that keeps
// message boundaries).
func (t *Table) Socket(domain, typ string) (int, error) {
	d, ok := domains[domain]
	if !ok {
		return -1, Invalid("socket", -1, "bad domain %q: expected inet, inet6 or unix", domain)
	}
	ty, ok := types[typ]
	if !ok {
		return -1, Invalid("socket", -1, "bad type %q: expected stream, dgram or seqpacket", typ)
	}
	mk := unix.Socket
	if t.Make != nil {
		mk = t.Make
	}
	fd, err := mk(d, ty|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, &Error{Op: "socket", FD: -1, Addr: domain + " " + typ, Err: err}
	}
	t.add(&Entry{FD: fd, Domain: d, Type: ty, Host: t.Host})
	return fd, nil
}

// Bind binds fd to addr.
func (t *Table) Bind(fd int, addr string) error {
	e, err := t.Get("bind", fd)
	if err != nil {
		return err
	}
	sa, err := t.parseAddr(e.Domain, addr)
	if err != nil {
		return withOp(err, "bind", fd, addr)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return &Error{Op: "bind", FD: fd, Addr: addr, Err: err}
	}
	e.bound = true
	if u, ok := sa.(*unix.SockaddrUnix); ok && u.Name != "" && u.Name[0] != '@' {
		e.path = u.Name
	}
	return nil
}

// Listen marks fd as listening with the given backlog.
func (t *Table) Listen(fd, backlog int) error {
	e, err := t.Get("listen", fd)
	if err != nil {
		return err
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return &Error{Op: "listen", FD: fd, Err: err}
	}
	e.listening = true
	return nil
}

// Accept takes one connection from fd's queue. It returns unix.EAGAIN
// (unwrapped) when none is waiting.
func (t *Table) Accept(fd int) (int, unix.Sockaddr, error) {
	e, err := t.Get("accept", fd)
	if err != nil {
		return -1, nil, err
	}
	nfd, sa, err := unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, nil, attempt("accept", fd, "", err)
	}
	t.add(&Entry{FD: nfd, Domain: e.Domain, Type: e.Type, bound: true, connected: true, remote: sa, Host: e.Host})
	return nfd, sa, nil
}

// Connect starts connecting fd to addr. It returns unix.EINPROGRESS
// (unwrapped) when the connection is under way: wait until fd is writable,
// then call FinishConnect. That is a blocking connect; ConnectNow is a
// non-blocking one.
func (t *Table) Connect(fd int, addr string) error {
	err := t.ConnectNow(fd, addr)
	var e *Error
	if errors.As(err, &e) && e.Detail == "" {
		switch e.Err {
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR, unix.EAGAIN:
			// EALREADY: a connect is already under way (a non-blocking
			// one made it); EAGAIN: AF_UNIX, the listener's backlog is
			// full, which a blocking connect waits out.
			return unix.EINPROGRESS
		}
	}
	return err
}

// ConnectNow makes one connect(2) of fd to addr and gives the kernel's
// answer as a non-blocking connect gets it: nil when connected, else an
// *Error with its errno — EINPROGRESS (the handshake is under way: wait
// until fd is writable, then connect again, which gives nil or the
// failure, or read the error with GetOpt(fd, "error")), EALREADY (still
// under way), EAGAIN (AF_UNIX: the listener's backlog is full), EISCONN,
// ECONNREFUSED and the rest.
func (t *Table) ConnectNow(fd int, addr string) error {
	e, err := t.Get("connect", fd)
	if err != nil {
		return err
	}
	sa, err := t.parseAddr(e.Domain, addr)
	if err != nil {
		return withOp(err, "connect", fd, addr)
	}
	if err := t.permit("connect", fd, addr, sa); err != nil {
		return err
	}
	e.dialHost = host(addr)
	err = unix.Connect(fd, sa)
	switch err {
	case nil:
		e.connected, e.connecting, e.remote = true, false, sa
		return nil
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		e.connecting, e.remote = true, sa
	case unix.EAGAIN:
		e.remote = sa
	case unix.EISCONN:
		e.connected, e.connecting = true, false
	default:
		e.connecting = false // a refusal ends the attempt; the next connect tries again
	}
	return &Error{Op: "connect", FD: fd, Addr: addr, Err: err}
}

// FinishConnect completes a connect that returned EINPROGRESS once fd is
// writable. It returns unix.EINPROGRESS again if it is still under way. Like
// a blocking connect, it asks the kernel with connect(2) itself, which is
// what moves the socket to connected: a later connect then gives EISCONN,
// and one after a refusal tries again.
func (t *Table) FinishConnect(fd int, addr string) error {
	e, err := t.Get("connect", fd)
	if err != nil {
		return err
	}
	if e.remote == nil {
		return t.Connect(fd, addr)
	}
	switch err := unix.Connect(fd, e.remote); err {
	case nil, unix.EISCONN:
		e.connecting, e.connected = false, true
		return nil
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR, unix.EAGAIN:
		return unix.EINPROGRESS
	default:
		e.connecting = false
		return &Error{Op: "connect", FD: fd, Addr: addr, Err: err}
	}
}

// Send writes data to a connected fd with one send(2). It returns the
// number of bytes the kernel took — on a stream, part of data when the send
// buffer has room for only part — or unix.EAGAIN (unwrapped) when its
// buffer is full. MSG_NOSIGNAL is always set: a peer that has gone gives
// EPIPE.
func (t *Table) Send(fd int, data string) (int, error) {
	e, err := t.Get("send", fd)
	if err != nil {
		return 0, err
	}
	n, err := e.write(data)
	if err != nil {
		return 0, attempt("send", fd, "", err)
	}
	return n, nil
}

// SendRest sends data[off:] to a connected fd until all of it is queued or
// the send buffer is full, and returns the new offset: len(data) when done,
// less with unix.EAGAIN (unwrapped) when the rest has to wait for room. An
// error of the kernel's is an *Error saying how many of the bytes went
// (Sent, Total). It is the loop of a blocking send, which returns only when
// every byte is queued.
func (t *Table) SendRest(fd int, data string, off int) (int, error) {
	e, err := t.Get("send", fd)
	if err != nil {
		return off, err
	}
	fail := func(err error) (int, error) {
		err = attempt("send", fd, "", err)
		if e, ok := err.(*Error); ok {
			e.Sent, e.Total = off, len(data)
		}
		return off, err
	}
	for off < len(data) {
		n, err := e.write(data[off:])
		if err != nil {
			return fail(err)
		}
		off += n
	}
	if err := e.flush(); err != nil { // TLS: the last record is in the kernel too
		return fail(err)
	}
	return off, nil
}

// SendTo sends a datagram (or, on a stream, data) to addr.
func (t *Table) SendTo(fd int, data, addr string) (int, error) {
	e, err := t.Get("sendto", fd)
	if err != nil {
		return 0, err
	}
	sa, err := t.parseAddr(e.Domain, addr)
	if err != nil {
		return 0, withOp(err, "sendto", fd, addr)
	}
	if err := t.permit("sendto", fd, addr, sa); err != nil {
		return 0, err
	}
	if e.secure() { // a connected stream: the address is not used
		n, err := e.write(data)
		if err != nil {
			return 0, attempt("sendto", fd, addr, err)
		}
		return n, nil
	}
	n, err := unix.SendmsgN(fd, unsafe.Slice(unsafe.StringData(data), len(data)), nil, sa, unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
	if err != nil {
		return 0, attempt("sendto", fd, addr, err)
	}
	e.Sent += int64(n)
	e.tapped(true, []byte(data[:n]))
	return n, nil
}

// maxRead bounds one receive: a recv asking for more gets what the kernel
// has, up to this, rather than a buffer the size it asked for.
const maxRead = 16 << 20

func (t *Table) buffer(max int) []byte {
	max = min(max, maxRead)
	if cap(t.scratch) < max {
		t.scratch = make([]byte, max)
	}
	return t.scratch[:max]
}

// Recv reads at most max bytes from fd. Bytes buffered by an earlier call
// come first. An empty result with a nil error is end of stream. It returns
// unix.EAGAIN (unwrapped) when nothing is there. The returned slice is only
// valid until the next call on the table.
func (t *Table) Recv(fd, max int) ([]byte, error) {
	if e, buf := t.RecvEntry(fd, max); e != nil {
		b, errno := e.RecvNow(buf)
		if errno != 0 {
			return nil, attempt("recv", fd, "", errno)
		}
		return b, nil
	}
	e, err := t.Get("recv", fd)
	if err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, Invalid("recv", fd, "bad size %d: expected a positive number of bytes", max)
	}
	if len(e.pending) > 0 {
		return e.takePending(max), nil
	}
	b, err := e.read(t.buffer(max)) // through the descriptor's layer
	if err != nil {
		return nil, attempt("recv", fd, "", err)
	}
	return b, nil
}

// RecvFrom reads one datagram of at most max bytes and returns its sender.
// A longer datagram is cut short, as recvfrom(2) does; RecvDatagram says
// so.
func (t *Table) RecvFrom(fd, max int) ([]byte, unix.Sockaddr, error) {
	b, from, _, err := t.RecvDatagram(fd, max)
	return b, from, err
}

// RecvDatagram is RecvFrom that also returns the datagram's whole length,
// which the kernel reports (MSG_TRUNC) even when max cut it short: more
// than len(b) means the rest of the datagram is lost. On a stream socket it
// is len(b).
func (t *Table) RecvDatagram(fd, max int) ([]byte, unix.Sockaddr, int, error) {
	e, err := t.Get("recvfrom", fd)
	if err != nil {
		return nil, nil, 0, err
	}
	if max <= 0 {
		return nil, nil, 0, Invalid("recvfrom", fd, "bad size %d: expected a positive number of bytes", max)
	}
	if len(e.pending) > 0 {
		b := e.takePending(max)
		return b, e.remote, len(b), nil
	}
	if e.secure() {
		b, err := e.read(t.buffer(max))
		if err != nil {
			return nil, nil, 0, attempt("recvfrom", fd, "", err)
		}
		return b, e.remote, len(b), nil
	}
	buf := t.buffer(max)
	flags := unix.MSG_DONTWAIT
	if e.Type == unix.SOCK_DGRAM {
		flags |= unix.MSG_TRUNC // on a stream it would discard the data
	}
	size, from, err := unix.Recvfrom(fd, buf, flags)
	if err != nil {
		return nil, nil, 0, attempt("recvfrom", fd, "", err)
	}
	n := min(size, len(buf))
	e.Received += int64(n)
	e.tapped(false, buf[:n])
	if from == nil {
		from = e.remote
	}
	return buf[:n], from, size, nil
}

func (e *Entry) takePending(max int) []byte {
	n := min(max, len(e.pending))
	b := e.pending[:n]
	e.pending = e.pending[n:]
	e.scanned -= min(n, e.scanned)
	if len(e.pending) == 0 {
		e.pending = nil // let a large buffer go
	}
	return b
}

// Peek returns up to n of the bytes buffered for fd, leaving them there.
func (t *Table) Peek(fd, n int) []byte {
	if fd < 0 || fd >= len(t.entries) || t.entries[fd] == nil {
		return nil
	}
	p := t.entries[fd].pending
	return p[:max(0, min(n, len(p)))]
}

// Unread puts bytes back in front of fd's buffer: the next receive call on
// fd returns them first. Framing helpers use it for what they read too far.
func (t *Table) Unread(fd int, b []byte) {
	if len(b) == 0 || fd < 0 || fd >= len(t.entries) || t.entries[fd] == nil {
		return
	}
	e := t.entries[fd]
	p := make([]byte, 0, len(b)+len(e.pending))
	e.pending = append(append(p, b...), e.pending...)
	e.scanned = 0
}

var shutHow = map[string]int{"rd": unix.SHUT_RD, "wr": unix.SHUT_WR, "rdwr": unix.SHUT_RDWR}

// Shutdown shuts down one or both directions of fd: how is rd, wr or rdwr.
func (t *Table) Shutdown(fd int, how string) error {
	e, err := t.Get("shutdown", fd)
	if err != nil {
		return err
	}
	h, ok := shutHow[how]
	if !ok {
		return Invalid("shutdown", fd, "bad direction %q: expected rd, wr or rdwr", how)
	}
	if h != unix.SHUT_RD && !e.shutWr && e.layer != nil && e.layer.tls != nil {
		e.layer.tls.closeWrite()
	}
	if err := unix.Shutdown(fd, h); err != nil {
		return &Error{Op: "shutdown", FD: fd, Err: err}
	}
	e.shutRd = e.shutRd || h != unix.SHUT_WR
	e.shutWr = e.shutWr || h != unix.SHUT_RD
	return nil
}

// Close closes fd and forgets it. Closing twice is EBADF.
func (t *Table) Close(fd int) error {
	e, err := t.Get("close", fd)
	if err != nil {
		return err
	}
	if e.layer != nil && e.layer.tls != nil {
		e.layer.tls.close()
	}
	t.entries[fd] = nil
	t.count--
	if e.path != "" {
		unix.Unlink(e.path) // gone already, or replaced: nothing to do
	}
	if err := unix.Close(fd); err != nil {
		return &Error{Op: "close", FD: fd, Err: err}
	}
	return nil
}

// CloseAll closes every descriptor of the table.
func (t *Table) CloseAll() {
	for _, fd := range t.FDs() {
		t.Close(fd)
	}
	if t.wakefd > 0 {
		unix.Close(t.wakefd)
		t.wakefd = 0
	}
}

// Sockname returns fd's local address.
func (t *Table) Sockname(fd int) (string, error) {
	return t.name("getsockname", fd, unix.Getsockname)
}

// Peername returns the address of fd's peer.
func (t *Table) Peername(fd int) (string, error) {
	return t.name("getpeername", fd, unix.Getpeername)
}

// name asks the kernel for an address of fd with get.
func (t *Table) name(op string, fd int, get func(int) (unix.Sockaddr, error)) (string, error) {
	if _, err := t.Get(op, fd); err != nil {
		return "", err
	}
	sa, err := get(fd)
	if err != nil {
		return "", &Error{Op: op, FD: fd, Err: err}
	}
	return FormatAddr(sa), nil
}

// withOp re-labels an address error with the operation that met it.
func withOp(err error, op string, fd int, addr string) error {
	if e, ok := err.(*Error); ok {
		c := *e
		c.Op, c.FD, c.Addr = op, fd, addr
		return &c
	}
	return &Error{Op: op, FD: fd, Addr: addr, Err: err}
}

// DomainName and TypeName give the shell's names for a domain and a type.
func DomainName(d int) string {
	for k, v := range domains {
		if v == d {
			return k
		}
	}
	return "?"
}

func TypeName(ty int) string {
	switch ty {
	case unix.SOCK_DGRAM:
		return "dgram"
	case unix.SOCK_SEQPACKET:
		return "seqpacket"
	}
	return "stream"
}
