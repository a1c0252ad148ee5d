package sock

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"sockshell/internal/lowfd"
)

// TLS on a connected stream, with crypto/tls. The handshake is a blocking
// conversation, which crypto/tls cannot resume once a read has said "would
// block"; so it runs on a goroutine of its own (Handshake.Run), over a
// duplicate of the descriptor that Go's poller waits on, while the
// scheduler goes on. After it the same tls.Conn runs on the table's
// goroutine over the non-blocking socket: its reads end with "would block"
// (which crypto/tls keeps no record of) and its writes go into a buffer
// that sends flush. The wire hands crypto/tls one record at a time, never
// a byte more, so what TLS holds is what the entry shows as buffered: the
// rest stays in the kernel, where epoll and poll see it.

// ErrTLS is the cause of a TLS failure: a certificate that does not
// verify, a peer that does not speak TLS, a protocol error. Its code is
// "ETLS".
var ErrTLS = errors.New("TLS failure")

// tlsError is a TLS failure in words: the message without crypto/tls's
// prefixes.
type tlsError struct{ msg string }

func (e *tlsError) Error() string { return e.msg }
func (e *tlsError) Unwrap() error { return ErrTLS }

// TLSOptions say how to make a descriptor's TLS: one side or the other,
// and how to trust the peer.
type TLSOptions struct {
	Server bool
	// ServerName is the name a client verifies (and sends, SNI); a server
	// ignores it. Empty: the host the descriptor connected to.
	ServerName string
	// CAFile is a PEM file of the CAs to verify the peer with: a client's
	// instead of the system's roots; a server's to require and verify a
	// client certificate.
	CAFile string
	// Insecure skips a client's verification of the server.
	Insecure bool
	// ALPN lists the application protocols to offer (client) or accept
	// (server), in order of preference.
	ALPN []string
	// CertFile and KeyFile are a PEM certificate and its key: a server's
	// (empty: a self-signed one made for the descriptor's address and
	// localhost), or a client's certificate.
	CertFile, KeyFile string
}

// maxPlain is the most plaintext a TLS record carries.
const maxPlain = 16 << 10

// Handshake is the TLS handshake of one descriptor: StartTLS makes it,
// Run does it on any goroutine, FinishTLS gives the descriptor its TLS on
// the table's goroutine.
type Handshake struct {
	FD    int
	entry *Entry
	conn  *tls.Conn
	wire  *wire
}

// StartTLS prepares TLS on fd, a connected stream: bytes a framing helper
// buffered come first to the handshake (a STARTTLS peer may have sent its
// hello right behind its last plain line). Until EndTLS the descriptor's
// sends and receives wait (EAGAIN). The caller runs the handshake and
// hands its end to EndTLS.
func (t *Table) StartTLS(fd int, o TLSOptions) (*Handshake, error) {
	e, err := t.Get("tls", fd)
	if err != nil {
		return nil, err
	}
	switch {
	case e.Type != unix.SOCK_STREAM:
		return nil, &Error{Op: "tls", FD: fd, Err: unix.EPROTOTYPE, Detail: "TLS runs over a stream socket"}
	case e.layer != nil && e.layer.hs != nil:
		return nil, &Error{Op: "tls", FD: fd, Err: unix.EALREADY, Detail: "a TLS handshake is under way on the descriptor"}
	case e.layer != nil && e.layer.tls != nil:
		return nil, &Error{Op: "tls", FD: fd, Err: unix.EALREADY, Detail: "the descriptor already speaks TLS"}
	case !e.connected:
		return nil, &Error{Op: "tls", FD: fd, Err: unix.ENOTCONN, Detail: "TLS needs a connected socket (connect or accept first)"}
	}
	cfg, err := t.tlsConfig(e, o)
	if err != nil {
		return nil, err
	}
	lowfd.ReservePoller() // Go's poller waits on the handshake's descriptor
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, lowfd.FirstPrivateFD)
	if err != nil {
		return nil, &Error{Op: "tls", FD: fd, Err: err}
	}
	w := &wire{fd: fd, prefix: e.pending, file: os.NewFile(uintptr(dup), "tls")}
	e.pending, e.scanned, e.scanDelim = nil, 0, ""
	h := &Handshake{FD: fd, entry: e, wire: w}
	if o.Server {
		h.conn = tls.Server(w, cfg)
	} else {
		h.conn = tls.Client(w, cfg)
	}
	e.layer = &layer{hs: h, tap: t.tap}
	return h, nil
}

// Run does the handshake, until ctx ends it. It touches nothing of the
// table, so it is safe to call on a goroutine of its own.
func (h *Handshake) Run(ctx context.Context) error {
	err := h.conn.HandshakeContext(ctx)
	h.wire.endHandshake()
	return err
}

// EndTLS ends fd's handshake, which Run ended with err, whether or not
// anyone still waits for it: on success the descriptor's sends and
// receives go through TLS from now on; on failure it is a plain socket
// again, its stream no longer of any use. It reports whether the
// descriptor is still the one the handshake began on.
func (t *Table) EndTLS(h *Handshake, err error) bool {
	e, _ := t.Get("tls", h.FD)
	if e != h.entry || e.layer == nil || e.layer.hs != h {
		return false
	}
	e.layer.hs = nil
	if err == nil {
		e.layer.tls = &tlsConn{conn: h.conn, wire: h.wire}
	}
	t.relayer(e)
	return true
}

// Err is the error of a handshake that Run ended with err, for the call
// that waited for it: nil, or a failure naming why.
func (h *Handshake) Err(err error, stillThere bool) error {
	switch {
	case err != nil:
		return &Error{Op: "tls", FD: h.FD, Err: handshakeError(err)}
	case !stillThere:
		return &Error{Op: "tls", FD: h.FD, Err: unix.EBADF, Detail: "descriptor closed during the TLS handshake"}
	}
	return nil
}

// handshakeError says why a handshake failed.
func handshakeError(err error) error {
	var errno unix.Errno
	var rh tls.RecordHeaderError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Err: unix.ETIMEDOUT, Detail: "timed out during the TLS handshake"}
	case errors.Is(err, context.Canceled):
		return &Error{Err: unix.EINTR, Detail: "interrupted"}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Err: ErrEOF, Detail: "the peer closed the connection during the TLS handshake"}
	case errors.As(err, &errno):
		return errno
	case errors.As(err, &rh):
		return &tlsError{fmt.Sprintf("the peer does not speak TLS (it sent %s)", strconv.Quote(string(rh.RecordHeader[:])))}
	case errors.As(err, &unknown):
		return &tlsError{"certificate signed by unknown authority (ca=PATH verifies against a CA of your own; insecure skips verification)"}
	}
	return &tlsError{tlsMessage(err)}
}

// tlsMessage is crypto/tls's message without its prefixes.
func tlsMessage(err error) string {
	msg := err.Error()
	for _, p := range []string{"tls: failed to verify certificate: ", "tls: ", "x509: "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	return msg
}

func (t *Table) tlsConfig(e *Entry, o TLSOptions) (*tls.Config, error) {
	fail := func(what string, err error) error {
		var pe *os.PathError
		if errors.As(err, &pe) {
			if errno, ok := pe.Err.(unix.Errno); ok {
				return &Error{Op: "tls", FD: e.FD, Addr: pe.Path, Err: errno}
			}
		}
		return &Error{Op: "tls", FD: e.FD, Err: unix.EINVAL, Detail: what + ": " + tlsMessage(err)}
	}
	cfg := &tls.Config{NextProtos: o.ALPN, InsecureSkipVerify: o.Insecure && !o.Server}
	var pool *x509.CertPool
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fail("ca", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &Error{Op: "tls", FD: e.FD, Addr: o.CAFile, Err: unix.EINVAL, Detail: "no PEM certificate in the CA file"}
		}
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, Invalid("tls", e.FD, "a certificate needs its key: cert=PATH key=PATH")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fail("certificate", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if o.Server {
		if len(cfg.Certificates) == 0 {
			cert, err := selfSigned(e.FD)
			if err != nil {
				return nil, fail("certificate", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		if pool != nil {
			cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
		return cfg, nil
	}
	cfg.ServerName = o.ServerName
	if cfg.ServerName == "" {
		cfg.ServerName = e.dialHost
	}
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		return nil, Invalid("tls", e.FD, "no server name to verify: give one (tls FD NAME), or insecure")
	}
	if pool == nil && !cfg.InsecureSkipVerify {
		// Loaded here, not by the handshake's goroutine: the files it
		// opens take low descriptor numbers for a moment, which a socket
		// made meanwhile on the scheduler's goroutine would not get.
		var err error
		if pool, err = x509.SystemCertPool(); err != nil {
			return nil, fail("system roots", err)
		}
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// selfSigned makes a certificate for a server on fd: ECDSA P-256, for
// localhost, the loopback addresses and fd's local address, valid from
// an hour ago for 30 days. It is its own CA, so a client can verify it
// with the certificate itself as ca.
func selfSigned(fd int) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"sockshell"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if sa, err := unix.Getsockname(fd); err == nil {
		if a, err := netip.ParseAddrPort(FormatAddr(sa)); err == nil && !a.Addr().IsLoopback() && !a.Addr().IsUnspecified() {
			tmpl.IPAddresses = append(tmpl.IPAddresses, a.Addr().AsSlice())
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// tlsConn is a descriptor's TLS once its handshake is done. It is used on
// the table's goroutine only.
type tlsConn struct {
	conn  *tls.Conn
	wire  *wire
	plain []byte // what a read decrypted and did not return yet
	buf   []byte // where reads decrypt to
}

// write encrypts at most a record of data and sends what it can: the
// bytes it took, or unix.EAGAIN while earlier records wait for room.
func (c *tlsConn) write(data string) (int, error) {
	if err := c.wire.flush(); err != nil {
		return 0, err
	}
	// crypto/tls only reads the bytes, encrypting them into a buffer of
	// its own: no copy of them is needed.
	n, err := c.conn.Write(unsafe.Slice(unsafe.StringData(data), min(len(data), maxPlain)))
	if err != nil {
		return 0, &tlsError{tlsMessage(err)}
	}
	c.wire.flush() // what the kernel has no room for goes with the next call
	return n, nil
}

// read returns decrypted bytes into buf: those left from the last record
// first, else the next record's; an empty result is the end of the
// stream (close_notify, or the peer closing between records).
func (c *tlsConn) read(buf []byte) ([]byte, error) {
	c.wire.flush() // a request still held goes out before its answer is awaited
	if len(c.plain) == 0 {
		if c.buf == nil {
			c.buf = make([]byte, maxPlain)
		}
		n, err := c.conn.Read(c.buf)
		c.wire.flush() // an answer crypto/tls wrote (a key update)
		if n == 0 {
			var errno unix.Errno
			switch {
			case err == nil:
				return nil, unix.EAGAIN
			case errors.Is(err, io.EOF):
				return buf[:0], nil
			case errors.Is(err, errWouldBlock):
				return nil, unix.EAGAIN
			case errors.As(err, &errno):
				return nil, errno
			case errors.Is(err, io.ErrUnexpectedEOF):
				return nil, &tlsError{"the stream ended inside a TLS record"}
			}
			return nil, &tlsError{tlsMessage(err)}
		}
		c.plain = c.buf[:n]
	}
	n := copy(buf, c.plain)
	c.plain = c.plain[n:]
	return buf[:n], nil
}

// flush sends what TLS wrote and the kernel did not take yet.
func (w *wire) flush() error {
	for len(w.out) > 0 {
		n, errno := rawSend(w.fd, unsafe.String(unsafe.SliceData(w.out), len(w.out)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		w.out = w.out[n:]
	}
	w.out = w.out[:0]
	return nil
}

// close sends close_notify, as far as the send buffer takes it now, and
// drops what the peer sent that was not read. Unread bytes would make the
// kernel end the connection with a reset, which throws away what the send
// buffer still holds — and a TLS 1.3 server sends session tickets after
// the handshake unasked, so a client that only sends always has some.
func (c *tlsConn) close() {
	c.conn.Close()
	c.wire.flush()
	var b [4096]byte
	for {
		if n, errno := recvWith(c.wire.fd, b[:], unix.MSG_DONTWAIT); n <= 0 && errno != unix.EINTR {
			return
		}
	}
}

// closeWrite sends close_notify before the kernel's FIN.
func (c *tlsConn) closeWrite() {
	c.conn.CloseWrite()
	c.wire.flush()
}

// state fills in's TLS fields.
func (c *tlsConn) state(in *Info) {
	st := c.conn.ConnectionState()
	in.TLSVersion = tls.VersionName(st.Version)
	in.TLSCipher = tls.CipherSuiteName(st.CipherSuite)
	in.TLSALPN = st.NegotiatedProtocol
	if len(st.PeerCertificates) > 0 {
		in.TLSPeer = st.PeerCertificates[0].Subject.String()
	}
}

// errWouldBlock is what the wire's reads say when the kernel has nothing:
// a temporary error, which crypto/tls gives back without keeping it.
var errWouldBlock error = wouldBlockError{}

type wouldBlockError struct{}

func (wouldBlockError) Error() string   { return "would block" }
func (wouldBlockError) Timeout() bool   { return true }
func (wouldBlockError) Temporary() bool { return true }

// wire is the net.Conn crypto/tls talks through: during the handshake a
// blocking duplicate of the socket (file), after it the non-blocking
// socket itself. It hands out one TLS record at a time, no byte past its
// end, so that unread records stay in the kernel.
type wire struct {
	fd     int
	prefix []byte // bytes read before TLS began, which belong to it
	hdr    [5]byte
	hn     int // bytes of the record header read so far
	left   int // bytes of the record's body still to read
	out    []byte

	mu   sync.Mutex
	file *os.File // the handshake's descriptor; nil after it
}

func (w *wire) Read(p []byte) (int, error) {
	if w.left > 0 {
		p = p[:min(len(p), w.left)]
	} else {
		p = p[:min(len(p), len(w.hdr)-w.hn)]
	}
	n, err := w.readRaw(p)
	if w.left > 0 {
		w.left -= n
	} else {
		w.hn += copy(w.hdr[w.hn:], p[:n])
		if w.hn == len(w.hdr) {
			w.left, w.hn = int(w.hdr[3])<<8|int(w.hdr[4]), 0
		}
	}
	return n, err
}

func (w *wire) readRaw(p []byte) (int, error) {
	if len(w.prefix) > 0 {
		n := copy(p, w.prefix)
		w.prefix = w.prefix[n:]
		return n, nil
	}
	if f := w.handshakeFile(); f != nil {
		return f.Read(p)
	}
	n, errno := recvWith(w.fd, p, unix.MSG_DONTWAIT)
	switch {
	case errno == unix.EAGAIN || errno == unix.EINTR:
		return 0, errWouldBlock
	case errno != 0:
		return 0, errno
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write sends a record crypto/tls made, as much of it as the kernel
// takes now; the rest waits in out for the next flush, which also reports
// an error of the kernel's.
func (w *wire) Write(p []byte) (int, error) {
	if f := w.handshakeFile(); f != nil {
		return f.Write(p)
	}
	m := len(p)
	if len(w.out) == 0 {
		if n, errno := rawSend(w.fd, unsafe.String(unsafe.SliceData(p), len(p))); errno == 0 {
			p = p[n:]
		}
	}
	w.out = append(w.out, p...)
	return m, nil
}

func (w *wire) handshakeFile() *os.File {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.file
}

// Close ends a handshake under way (crypto/tls closes its connection when
// the handshake's context ends); the socket itself is the table's.
func (w *wire) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file != nil {
		w.file.Close()
	}
	return nil
}

func (w *wire) endHandshake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file != nil {
		w.file.Close()
		w.file = nil
	}
}

func (w *wire) LocalAddr() net.Addr                { return wireAddr{} }
func (w *wire) RemoteAddr() net.Addr               { return wireAddr{} }
func (w *wire) SetDeadline(t time.Time) error      { return nil }
func (w *wire) SetReadDeadline(t time.Time) error  { return nil }
func (w *wire) SetWriteDeadline(t time.Time) error { return nil }

type wireAddr struct{}

func (wireAddr) Network() string { return "sockshell" }
func (wireAddr) String() string  { return "sockshell" }

// host is the host part of an inet address ("" for any other): the name
// a TLS client verifies by default.
func host(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil || h == "*" {
		return ""
	}
	return h
}
