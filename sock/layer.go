package sock

import (
	"golang.org/x/sys/unix"
)

// A layer carries a descriptor's bytes in place of the bare syscalls of
// SendNow and RecvNow: through TLS, and past a tap that sees them. An
// entry without one is a plain socket, which the fast path (SendEntry,
// RecvEntry) serves; an entry with one goes the generic way, through
// Entry.write and Entry.read.
type layer struct {
	tls *tlsConn   // nil: the kernel's bytes as they are
	hs  *Handshake // a TLS handshake under way: sends and receives wait
	tap Tap        // nil: not watched
}

// secure reports whether e speaks TLS or is starting to.
func (e *Entry) secure() bool {
	return e.layer != nil && (e.layer.tls != nil || e.layer.hs != nil)
}

// Tap sees every byte a descriptor sends (sent true) or receives, when it
// is sent or received: for a TLS descriptor, the plaintext. b is only
// valid during the call.
type Tap func(fd int, sent bool, b []byte)

// SetTap makes tap see the bytes of every descriptor of the table, those
// opened later too; nil stops it. Descriptors then leave the fast path
// while tap is set.
func (t *Table) SetTap(tap Tap) {
	t.tap = tap
	for _, e := range t.entries {
		if e != nil {
			t.relayer(e)
		}
	}
}

// relayer gives e the layer its TLS state and the table's tap make, or
// none.
func (t *Table) relayer(e *Entry) {
	var l layer
	if e.layer != nil {
		l = *e.layer
	}
	l.tap = t.tap
	if l.tls == nil && l.hs == nil && l.tap == nil {
		e.layer = nil
		return
	}
	e.layer = &l
}

// write sends data as the descriptor's layer says: one non-blocking send
// of a plain socket, or through TLS. It returns the bytes taken, or
// unix.EAGAIN (as an error) when there is no room.
func (e *Entry) write(data string) (int, error) {
	l := e.layer
	if l == nil {
		n, errno := e.SendNow(data)
		if errno != 0 {
			return 0, errno
		}
		return n, nil
	}
	var n int
	var err error
	if l.hs != nil {
		return 0, unix.EAGAIN // until the handshake ends
	}
	if l.tls != nil {
		n, err = l.tls.write(data)
		e.Sent += int64(n)
	} else {
		var errno unix.Errno
		if n, errno = e.SendNow(data); errno != 0 {
			err = errno
		}
	}
	if n > 0 && l.tap != nil {
		l.tap(e.FD, true, []byte(data[:n]))
	}
	return n, err
}

// read receives into buf as the descriptor's layer says; an empty result
// is the end of the stream.
func (e *Entry) read(buf []byte) ([]byte, error) {
	l := e.layer
	var b []byte
	var err error
	switch {
	case l != nil && l.hs != nil:
		return nil, unix.EAGAIN // until the handshake ends
	case l != nil && l.tls != nil:
		b, err = l.tls.read(buf)
		e.Received += int64(len(b))
	default:
		var errno unix.Errno
		if b, errno = e.RecvNow(buf); errno != 0 {
			err = errno
		}
	}
	if len(b) > 0 && l != nil && l.tap != nil {
		l.tap(e.FD, false, b)
	}
	return b, err
}

// flush writes what TLS holds of earlier sends: nil once the kernel has
// it all, unix.EAGAIN while the send buffer is full.
func (e *Entry) flush() error {
	if e.layer == nil || e.layer.tls == nil {
		return nil
	}
	return e.layer.tls.wire.flush()
}

// tapped reports what the tap sees of a call that bypasses write and read
// (datagrams, sendto).
func (e *Entry) tapped(sent bool, b []byte) {
	if e.layer != nil && e.layer.tap != nil && len(b) > 0 {
		e.layer.tap(e.FD, sent, b)
	}
}
