package sock

import (
	"errors"

	"golang.org/x/sys/unix"
)

// RecvAll returns fd's stream up to its end, which must come within limit
// bytes (0: the table's MaxRecv); a stream that goes on past it fails with
// EMSGSIZE, its bytes kept for the next receive. It reads as the framing
// helpers do: EAGAIN when the kernel has no more for now, ErrMore after a
// turn, what was read kept in the buffer between calls.
func (t *Table) RecvAll(fd, limit int) ([]byte, error) {
	e, err := t.Get("recvall", fd)
	if err != nil {
		return nil, err
	}
	if e.Type != unix.SOCK_STREAM {
		return nil, &Error{Op: "recvall", FD: fd, Err: unix.EOPNOTSUPP, Detail: "a stream has an end to read to; a datagram socket has none (use recv or recvfrom)"}
	}
	lim := t.limit(limit)
	read, reads := 0, 0
	for {
		if len(e.pending) > lim.n {
			return nil, tooBig("recvall", fd, "the stream goes on past %d bytes %s; they stay buffered for the next receive", lim.n, lim)
		}
		if read >= turnBytes || reads >= turnReads {
			return nil, ErrMore
		}
		// One byte past the limit tells a stream that ends at it from one
		// that goes on.
		n, err := t.fill("recvall", e, min(fillSize, lim.n+1-len(e.pending)))
		if errors.Is(err, ErrEOF) {
			b := e.pending
			e.pending, e.scanned, e.scanDelim = nil, 0, ""
			if b == nil {
				b = []byte{}
			}
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		read += n
		reads++
	}
}

// RecvMatch returns the stream up to the end that find gives, which must
// come within limit bytes (0: the table's MaxRecv). find is called on the
// buffered bytes (at most limit of them) each time more arrive, and
// returns where the unit ends or -1: unlike RecvUntil's search, it looks
// at the whole buffer again every time, so a unit that arrives in k
// pieces costs k searches. desc names what is looked for, for the error.
func (t *Table) RecvMatch(op string, fd, limit int, desc string, find func(p []byte) int) ([]byte, error) {
	lim := t.limit(limit)
	return t.recvUnit(op, fd, lim, func(e *Entry) (int, int, int, error) {
		p := e.pending[:min(len(e.pending), lim.n)]
		if end := find(p); end >= 0 {
			return 0, end, 0, nil
		}
		if len(p) == lim.n {
			return 0, 0, 0, tooBig(op, fd, "no match for %s in the first %d bytes %s; they stay buffered for the next receive", desc, lim.n, lim)
		}
		return 0, -1, min(fillSize, lim.n-len(e.pending)), nil
	})
}

// SendFile sends count bytes of the file at path from offset off to the
// connected fd with sendfile(2), or to the file's end when count is -1.
// It returns the bytes that went in this call and done when there are no
// more to send (count reached, or the file ended); unix.EAGAIN (unwrapped)
// when the send buffer is full. The file is opened and closed within the
// call, so a caller that waits between calls holds no descriptor.
func (t *Table) SendFile(fd int, path string, off int64, count int64) (n int64, done bool, err error) {
	e, err := t.Get("sendfile", fd)
	if err != nil {
		return 0, false, err
	}
	f, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, false, &Error{Op: "sendfile", FD: fd, Addr: path, Err: err}
	}
	defer unix.Close(f)
	var st unix.Stat_t
	if err := unix.Fstat(f, &st); err != nil {
		return 0, false, &Error{Op: "sendfile", FD: fd, Addr: path, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return 0, false, &Error{Op: "sendfile", FD: fd, Addr: path, Err: unix.EISDIR}
	}
	if off < 0 || off > st.Size {
		return 0, false, Invalid("sendfile", fd, "bad offset %d: the file %q has %d bytes", off, path, st.Size)
	}
	if count < 0 {
		count = st.Size - off
	}
	pos := off
	for n < count {
		w, err := unix.Sendfile(fd, f, &pos, int(min(count-n, 1<<30)))
		if w > 0 {
			n += int64(w)
			e.Sent += int64(w)
		}
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			return n, false, unix.EAGAIN
		case err != nil:
			return n, false, &Error{Op: "sendfile", FD: fd, Addr: path, Err: err}
		case w == 0: // the file ended before count
			return n, true, nil
		}
	}
	return n, true, nil
}
