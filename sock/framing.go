package sock

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// MaxFrame bounds the length a frame header may announce, so a hostile or
// confused peer cannot make recvframe buffer without end.
const MaxFrame = 256 << 20

// fillSize is how much a framing helper asks the kernel for at a time.
const fillSize = 64 << 10

// FrameHeaders lists the length-prefix kinds of SendFrame and RecvFrame.
var FrameHeaders = []string{"u32be", "u8", "u16be", "u16le", "u32le"}

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

// RecvN returns exactly n bytes of fd's stream.
func (t *Table) RecvN(fd, n int) ([]byte, error) {
	if n < 0 {
		return nil, Invalid("recvn", fd, "bad size %d: expected a number of bytes >= 0", n)
	}
	return t.recvUnit("recvn", fd, func(p []byte) (int, int, error) {
		if len(p) >= n {
			return 0, n, nil
		}
		return 0, -1, nil
	})
}

// RecvUntil returns the stream up to and including delim.
func (t *Table) RecvUntil(fd int, delim string) ([]byte, error) {
	if delim == "" {
		return nil, Invalid("recvuntil", fd, "empty delimiter: expected at least one byte")
	}
	return t.recvUnit("recvuntil", fd, func(p []byte) (int, int, error) {
		if i := bytes.Index(p, []byte(delim)); i >= 0 {
			return 0, i + len(delim), nil
		}
		return 0, -1, nil
	})
}

// RecvFrame returns the payload of one length-prefixed frame.
func (t *Table) RecvFrame(fd int, kind string) ([]byte, error) {
	if kind == "" {
		kind = "u32be"
	}
	h := headerSize(kind)
	if h == 0 {
		return nil, Invalid("recvframe", fd, "bad header %q: expected u8, u16be, u32be, u16le or u32le", kind)
	}
	return t.recvUnit("recvframe", fd, func(p []byte) (int, int, error) {
		if len(p) < h {
			return 0, -1, nil
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
		if n > MaxFrame {
			return 0, 0, &Error{Op: "recvframe", FD: fd, Err: unix.EMSGSIZE, Detail: fmt.Sprintf("frame of %d bytes announced; at most %d accepted", n, MaxFrame)}
		}
		if uint64(len(p)-h) < n {
			return 0, -1, nil
		}
		return h, h + int(n), nil
	})
}

// recvUnit reads fd's stream into its buffer until unit finds a whole unit
// in it: unit returns where the unit's payload starts and ends, or end -1
// for "not yet". It returns unix.EAGAIN (unwrapped, keeping what came) when
// the kernel has no more for now, and an ErrEOF error when the stream ends
// first; what was read stays buffered either way.
func (t *Table) recvUnit(op string, fd int, unit func([]byte) (int, int, error)) ([]byte, error) {
	e, err := t.Get(op, fd)
	if err != nil {
		return nil, err
	}
	for {
		start, end, err := unit(e.pending)
		if err != nil {
			return nil, err
		}
		if end >= 0 {
			b := e.pending[start:end]
			e.pending = e.pending[end:]
			if len(e.pending) == 0 {
				e.pending = nil
			}
			return b, nil
		}
		b, errno := e.RecvNow(t.buffer(fillSize))
		switch {
		case errno == unix.EAGAIN || errno == unix.EINTR:
			return nil, unix.EAGAIN
		case errno != 0:
			return nil, &Error{Op: op, FD: fd, Err: errno}
		case len(b) == 0:
			return nil, &Error{Op: op, FD: fd, Err: ErrEOF,
				Detail: fmt.Sprintf("stream ended before the unit was complete (%d bytes kept for the next receive)", len(e.pending))}
		}
		e.pending = append(e.pending, b...)
	}
}
