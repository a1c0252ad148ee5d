package sock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DefaultMaxRecv is the most bytes a receive helper takes for one unit —
// the n bytes of RecvN, a line, a frame's payload — when neither the call
// nor the table sets a limit: a peer that never sends the delimiter, or
// announces a huge frame, costs at most about this much memory.
const DefaultMaxRecv = 4 << 20

// fillSize is how much a framing helper asks the kernel for at a time when
// the unit does not say how much it needs.
const fillSize = 64 << 10

// A framing helper reads at most turnBytes, in at most turnReads reads, in
// one call before it returns ErrMore: a caller that serves other
// descriptors (the Lua scheduler) gets its turn, and can check a deadline,
// even while a peer floods and the kernel never runs dry.
const (
	turnBytes = 256 << 10
	turnReads = 64
)

// ErrMore reports that a framing helper read its share for now of a stream
// that has more for it: the unit is not complete yet, and the kernel was
// not out of data. Nothing is lost; call again, without waiting for
// readiness (Table.Do does).
var ErrMore = errors.New("more to read: call again")

// limit is the bound on one unit and the name of the setting it came from,
// for the error that reports it.
type limit struct {
	n    int
	name string
}

// limit returns the bound of a call that asked for n bytes at most (0: the
// table's MaxRecv).
func (t *Table) limit(n int) limit {
	switch {
	case n > 0:
		return limit{n, "the call's LIMIT"}
	case t.MaxRecv > 0:
		return limit{t.MaxRecv, "maxrecv"}
	}
	return limit{DefaultMaxRecv, "maxrecv"}
}

func (l limit) String() string { return fmt.Sprintf("(limit: %s)", l.name) }

func tooBig(op string, fd int, format string, args ...any) error {
	return &Error{Op: op, FD: fd, Err: unix.EMSGSIZE, Detail: fmt.Sprintf(format, args...)}
}

// frameHeaders lists the length-prefix kinds of SendFrame and RecvFrame.
var frameHeaders = []string{"u32be", "u8", "u16be", "u16le", "u32le"}

// FrameHeaders returns the length-prefix kinds of SendFrame and RecvFrame,
// the default first.
func FrameHeaders() []string { return slices.Clone(frameHeaders) }

func headerSize(kind string) int {
	switch kind {
	case "u8":
		return 1
	case "u16be", "u16le":
		return 2
	case "u32be", "u32le":
		return 4
	}
	return 0
}

// Frame returns data with a length prefix of the given kind ("" is u32be).
func Frame(fd int, kind, data string) ([]byte, error) {
	if kind == "" {
		kind = "u32be"
	}
	h := headerSize(kind)
	if h == 0 {
		return nil, Invalid("sendframe", fd, "bad header %q: expected u8, u16be, u32be, u16le or u32le", kind)
	}
	if uint64(len(data)) >= 1<<(8*h) {
		return nil, Invalid("sendframe", fd, "%d bytes do not fit a %s length", len(data), kind)
	}
	b := make([]byte, h, h+len(data))
	n := uint64(len(data))
	switch kind {
	case "u8":
		b[0] = byte(n)
	case "u16be":
		binary.BigEndian.PutUint16(b, uint16(n))
	case "u16le":
		binary.LittleEndian.PutUint16(b, uint16(n))
	case "u32be":
		binary.BigEndian.PutUint32(b, uint32(n))
	case "u32le":
		binary.LittleEndian.PutUint32(b, uint32(n))
	}
	return append(b, data...), nil
}

// RecvN returns exactly n bytes of fd's stream. n may be at most limit (0:
// the table's MaxRecv); more is refused at once with EMSGSIZE.
func (t *Table) RecvN(fd, n, limit int) ([]byte, error) {
	if n < 0 {
		return nil, Invalid("recvn", fd, "bad size %d: expected a number of bytes >= 0", n)
	}
	lim := t.limit(limit)
	if n > lim.n {
		return nil, tooBig("recvn", fd, "%d bytes asked for, more than %d %s", n, lim.n, lim)
	}
	return t.recvUnit("recvn", fd, lim, func(e *Entry) (int, int, int, error) {
		if len(e.pending) >= n {
			return 0, n, 0, nil
		}
		return 0, -1, max(n-len(e.pending), fillSize), nil
	})
}

// RecvUntil returns the stream up to and including delim, which must come
// within the first limit bytes (0: the table's MaxRecv); when it does not,
// RecvUntil fails with EMSGSIZE and those bytes stay buffered. The search
// goes on where the last one stopped: a line that arrives in many pieces
// costs time in proportion to its length.
func (t *Table) RecvUntil(fd int, delim string, limit int) ([]byte, error) {
	if delim == "" {
		return nil, Invalid("recvuntil", fd, "empty delimiter: expected at least one byte")
	}
	lim := t.limit(limit)
	return t.recvUnit("recvuntil", fd, lim, func(e *Entry) (int, int, int, error) {
		p := e.pending
		to := min(len(p), lim.n)
		from := 0
		if e.scanDelim == delim {
			from = min(max(0, e.scanned-len(delim)+1), to)
		}
		if i := bytes.Index(p[from:to], []byte(delim)); i >= 0 {
			return 0, from + i + len(delim), 0, nil
		}
		e.scanDelim, e.scanned = delim, to
		if to == lim.n {
			return 0, 0, 0, tooBig("recvuntil", fd, "no %s in the first %d bytes %s; they stay buffered for the next receive", strconv.Quote(delim), lim.n, lim)
		}
		return 0, -1, min(fillSize, lim.n-len(p)), nil
	})
}

// RecvFrame returns the payload of one length-prefixed frame. A header
// announcing more than limit bytes (0: the table's MaxRecv) is refused at
// once with EMSGSIZE; the bytes stay buffered.
func (t *Table) RecvFrame(fd int, kind string, limit int) ([]byte, error) {
	if kind == "" {
		kind = "u32be"
	}
	h := headerSize(kind)
	if h == 0 {
		return nil, Invalid("recvframe", fd, "bad header %q: expected u8, u16be, u32be, u16le or u32le", kind)
	}
	lim := t.limit(limit)
	return t.recvUnit("recvframe", fd, lim, func(e *Entry) (int, int, int, error) {
		p := e.pending
		if len(p) < h {
			return 0, -1, fillSize, nil
		}
		var n uint64
		switch kind {
		case "u8":
			n = uint64(p[0])
		case "u16be":
			n = uint64(binary.BigEndian.Uint16(p))
		case "u16le":
			n = uint64(binary.LittleEndian.Uint16(p))
		case "u32be":
			n = uint64(binary.BigEndian.Uint32(p))
		case "u32le":
			n = uint64(binary.LittleEndian.Uint32(p))
		}
		if n > uint64(lim.n) {
			return 0, 0, 0, tooBig("recvframe", fd, "frame of %d bytes announced, more than %d %s; the header stays buffered for the next receive", n, lim.n, lim)
		}
		if uint64(len(p)-h) < n {
			return 0, -1, max(h+int(n)-len(p), fillSize), nil
		}
		return h, h + int(n), 0, nil
	})
}

// unitFunc looks for a whole unit in the entry's buffer: it returns where
// the unit's payload starts and ends, or end -1 for "not yet" with how many
// bytes to ask the kernel for next.
type unitFunc func(e *Entry) (start, end, want int, err error)

// recvUnit reads fd's stream into its buffer until unit finds a whole unit
// in it. It returns unix.EAGAIN (unwrapped, keeping what came) when the
// kernel has no more for now, ErrMore after a turn's worth of reading, and
// an ErrEOF error when the stream ends first; what was read stays buffered
// whatever ends the call.
func (t *Table) recvUnit(op string, fd int, lim limit, unit unitFunc) ([]byte, error) {
	e, err := t.Get(op, fd)
	if err != nil {
		return nil, err
	}
	read, reads := 0, 0
	for {
		start, end, want, err := unit(e)
		if err != nil {
			return nil, err
		}
		if end >= 0 {
			b, rest := e.pending[start:end], e.pending[end:]
			switch {
			case len(rest) == 0:
				rest = nil
			case cap(rest) > 4*fillSize && len(rest) < cap(rest)/4:
				rest = append([]byte(nil), rest...) // let a long unit's buffer go
			}
			e.pending, e.scanned, e.scanDelim = rest, 0, ""
			return b, nil
		}
		if read >= turnBytes || reads >= turnReads {
			return nil, ErrMore
		}
		var n int
		if e.Type == unix.SOCK_DGRAM {
			n, err = e.fillDatagram(op, lim)
		} else {
			n, err = t.fill(op, e, want)
		}
		if err != nil {
			return nil, err
		}
		read += n
		reads++
	}
}

// fill makes one read of at most size bytes (and at most a turn's worth)
// onto the end of the entry's buffer: straight into it when it has room
// (a long unit, read in turns), else through the table's scratch buffer,
// so that a short unit costs no more memory than its bytes.
func (t *Table) fill(op string, e *Entry, size int) (int, error) {
	size = min(size, turnBytes)
	n := len(e.pending)
	if n >= fillSize { // a long unit: grow the buffer by doubling, read into it
		e.reserve(size)
	}
	inPlace := cap(e.pending)-n >= size
	var buf []byte
	if inPlace {
		buf = e.pending[n : n+size]
	} else {
		buf = t.buffer(size)
	}
	b, err := e.read(buf)
	switch {
	case err != nil:
		return 0, attempt(op, e.FD, "", err)
	case len(b) == 0:
		return 0, &Error{Op: op, FD: e.FD, Err: ErrEOF,
			Detail: fmt.Sprintf("stream ended before the unit was complete (%d bytes kept for the next receive)", len(e.pending))}
	}
	if inPlace {
		e.pending = e.pending[:n+len(b)]
	} else {
		e.pending = append(e.pending, b...)
	}
	return len(b), nil
}

// fillDatagram moves the next datagram, whole, onto the end of the entry's
// buffer: a framing helper on a datagram socket sees the datagrams' bytes
// one after the other, and never loses the tail of one. A datagram that
// would take the buffer past the limit is refused with EMSGSIZE and stays
// queued in the kernel, where recv can take it.
func (e *Entry) fillDatagram(op string, lim limit) (int, error) {
	size, errno := recvWith(e.FD, nil, unix.MSG_PEEK|unix.MSG_TRUNC|unix.MSG_DONTWAIT)
	switch {
	case errno != 0:
		return 0, attempt(op, e.FD, "", errno)
	case len(e.pending)+size > lim.n:
		return 0, tooBig(op, e.FD, "the next datagram has %d bytes, and %d are buffered: more than %d %s; it stays queued (recv takes it)", size, len(e.pending), lim.n, lim)
	}
	e.reserve(size)
	buf := e.pending[len(e.pending) : len(e.pending)+size]
	n, errno := recvWith(e.FD, buf, unix.MSG_TRUNC|unix.MSG_DONTWAIT)
	if errno != 0 {
		return 0, attempt(op, e.FD, "", errno)
	}
	got := min(n, size)
	e.Received += int64(got)
	e.tapped(false, buf[:got])
	e.pending = e.pending[:len(e.pending)+got]
	if n > size { // another reader of the socket took the one peeked at
		return got, tooBig(op, e.FD, "a datagram of %d bytes was cut to %d (%d bytes lost)", n, size, n-size)
	}
	return got, nil
}

// reserve makes room for size more bytes at the end of the buffer,
// doubling it when it grows.
func (e *Entry) reserve(size int) {
	if cap(e.pending)-len(e.pending) >= size {
		return
	}
	grown := make([]byte, len(e.pending), max(len(e.pending)+size, 2*cap(e.pending)))
	copy(grown, e.pending)
	e.pending = grown
}

// recvWith makes one recv(2) with flags into buf and returns what it
// returned: with MSG_TRUNC, a datagram's whole length even when buf is
// shorter.
func recvWith(fd int, buf []byte, flags int) (int, unix.Errno) {
	var p unsafe.Pointer
	if len(buf) > 0 {
		p = unsafe.Pointer(unsafe.SliceData(buf))
	}
	r, _, errno := syscall.RawSyscall6(sysRecvfrom, uintptr(fd), uintptr(p), uintptr(len(buf)), uintptr(flags), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), 0
}
