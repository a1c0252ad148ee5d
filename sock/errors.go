package sock

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrEOF reports that a stream ended before a whole unit (n bytes, a line, a
// frame) arrived. Its code is "EOF".
var ErrEOF = errors.New("end of stream")

// Error is a failed operation: which operation, on which descriptor and
// address, and why. It unwraps to the errno (or ErrEOF), so
// errors.Is(err, unix.ECONNREFUSED) works.
type Error struct {
	Op     string // "connect"
	FD     int    // the descriptor, or -1 when there is none
	Addr   string // the address involved, if any
	Err    error  // a unix.Errno, ErrEOF, or another cause
	Detail string // for EINVAL and the like: what was expected
	// Sent and Total, when Total > 0, say how much of a send of Total
	// bytes went before it failed: the bytes the kernel took are gone
	// to the peer whatever ended the call.
	Sent, Total int
}

// Error formats the error as the shell prints it after "error: ":
// "connect 3 127.0.0.1:1: ECONNREFUSED: connection refused".
func (e *Error) Error() string {
	s := e.Op
	if e.FD >= 0 {
		s += " " + strconv.Itoa(e.FD)
	}
	if e.Addr != "" {
		s += " " + quoteControls(e.Addr)
	}
	s += ": " + Code(e.Err) + ": "
	switch {
	case e.Detail != "":
		s += e.Detail
	case e.Err == nil:
		s += "failed"
	default:
		s += message(e.Err)
	}
	if e.Total > 0 {
		s += fmt.Sprintf(" (%d of %d bytes sent)", e.Sent, e.Total)
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Code returns the symbolic name of an error's cause: the errno name
// ("ECONNREFUSED"), "EOF" for ErrEOF, or "EIO" for anything else.
func Code(err error) string {
	var errno unix.Errno
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrEOF):
		return "EOF"
	case errors.Is(err, ErrTLS):
		return "ETLS"
	case errors.Is(err, unix.EOPNOTSUPP): // the name the socket man pages use
		return "EOPNOTSUPP"
	case errors.As(err, &errno):
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
		return "E" + strconv.Itoa(int(errno))
	}
	return "EIO"
}

func message(err error) string {
	var errno unix.Errno
	var e *Error
	switch {
	case errors.As(err, &e):
		if e.Detail != "" {
			return e.Detail
		}
		return message(e.Err)
	case errors.As(err, &errno):
		return errno.Error()
	}
	return err.Error()
}

// Invalid returns an EINVAL error whose message says what was expected.
func Invalid(op string, fd int, format string, args ...any) error {
	return &Error{Op: op, FD: fd, Err: unix.EINVAL, Detail: fmt.Sprintf(format, args...)}
}

// quoteControls quotes s (Go syntax) if it has a control character or a
// byte past ASCII: an address a peer chose (an AF_UNIX path) can hold
// terminal escape codes, and an error message is printed.
func quoteControls(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return strconv.Quote(s)
		}
	}
	return s
}

// attempt gives the error of one attempt at a call as callers take it:
// unix.EAGAIN (unwrapped) when the call would block or a signal
// interrupted it — make it again once the descriptor is ready — else an
// *Error naming the call, the descriptor, the address if any, and the
// errno.
func attempt(op string, fd int, addr string, err error) error {
	if err == unix.EAGAIN || err == unix.EINTR {
		return unix.EAGAIN
	}
	return &Error{Op: op, FD: fd, Addr: addr, Err: err}
}
