package sock

import (
	"context"
	"time"

	"golang.org/x/sys/unix"
)

// Readiness a call waits for.
const (
	Readable = unix.POLLIN
	Writable = unix.POLLOUT
)

// Deadline returns when a call on fd must give up: now + timeout when the
// call has its own (timeout >= 0), else the descriptor's own timeout, else
// the table's default. The zero time means no deadline.
func (t *Table) Deadline(fd int, timeout time.Duration) time.Time {
	if timeout == 0 {
		return time.Now() // do not wait at all
	}
	if timeout < 0 && fd >= 0 && fd < len(t.entries) && t.entries[fd] != nil && t.entries[fd].HasTimeout {
		timeout = t.entries[fd].Timeout
	}
	if timeout == 0 {
		return time.Now()
	}
	if timeout < 0 {
		timeout = t.DefaultTimeout
		if timeout <= 0 {
			return time.Time{} // the session waits as long as it takes
		}
	}
	return time.Now().Add(timeout)
}

// Wait blocks until fd is ready for events (Readable, Writable), the
// deadline passes (ETIMEDOUT) or ctx is cancelled (EINTR). It is for callers
// that have no scheduler of their own.
func (t *Table) Wait(ctx context.Context, fd int, events int16, deadline time.Time) error {
	if t.wakefd == 0 {
		w, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
		if err != nil {
			return err
		}
		t.wakefd = w
	}
	wake := t.wakefd
	stop := context.AfterFunc(ctx, func() {
		unix.Write(wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	})
	defer func() {
		stop()
		var b [8]byte
		unix.Read(wake, b[:])
	}()
	pfd := []unix.PollFd{{Fd: int32(fd), Events: events}, {Fd: int32(wake), Events: unix.POLLIN}}
	for {
		ms := -1
		if !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				return unix.ETIMEDOUT
			}
			ms = int((d + time.Millisecond - 1) / time.Millisecond)
		}
		n, err := unix.Poll(pfd, ms)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case ctx.Err() != nil:
			return unix.EINTR
		case n > 0 && pfd[0].Revents != 0:
			return nil
		case pfd[1].Revents != 0: // a late wake-up meant for an earlier call
			var b [8]byte
			unix.Read(wake, b[:])
		}
	}
}

// Do runs try until it stops returning EAGAIN, EINPROGRESS or ErrMore,
// waiting for events on fd in between (which, after ErrMore, are there at
// once), until deadline or ctx ends it. A blocking call
// for Go callers: Do(ctx, fd, Readable, t.Deadline(fd, -1), func() error {...}).
func (t *Table) Do(ctx context.Context, fd int, events int16, deadline time.Time, try func() error) error {
	for {
		err := try()
		if err != unix.EAGAIN && err != unix.EINPROGRESS && err != ErrMore {
			return err
		}
		if err := t.Wait(ctx, fd, events, deadline); err != nil {
			return err
		}
	}
}
