// Package lowfd keeps the low descriptor numbers for a session's sockets:
// descriptors sockshell opens for itself are moved out of their way. It
// knows nothing of sockets or Lua, and its functions are safe for
// concurrent use, though KeepLowFDs is meant for start-up, when nothing
// else opens descriptors.
package lowfd

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The descriptor numbers below FirstPrivateFD are kept for the session's
// sockets, so that a session's first socket is fd 3, as in every socket
// tutorial. Descriptors the program needs for itself (its epoll, a
// recording file, a history file, the Go runtime's poller) go at or above
// it — and below 64, the size of a process's initial descriptor table:
// growing the table in a multi-threaded process costs the kernel about
// 10 ms, a large part of sockshell's start-up.
const FirstPrivateFD = 48

// Private moves a descriptor the program opened for itself out of the way
// of the session's sockets, closing the original. It returns fd unchanged
// if it cannot be moved.
func Private(fd int) int {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, FirstPrivateFD)
	if err != nil {
		return fd
	}
	unix.Close(fd)
	return nfd
}

// KeepLowFDs runs fn while the descriptor numbers below FirstPrivateFD are
// taken, so that whatever fn opens that sockshell cannot move itself (the
// Go runtime's poller, a line editor's history file) lands above them.
func KeepLowFDs(fn func()) {
	var held []int
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		if fd >= FirstPrivateFD {
			unix.Close(fd)
			break
		}
		held = append(held, fd)
	}
	defer func() {
		for _, fd := range held {
			unix.Close(fd)
		}
	}()
	fn()
}

var pollerOnce sync.Once

// ReservePoller makes the Go runtime's network poller take its
// descriptors now, above the numbers kept for the session's sockets: it
// starts the first time a pollable file is opened (a script, the shell's
// terminal, a pipe), and would otherwise take the lowest free numbers.
func ReservePoller() {
	pollerOnce.Do(func() {
		KeepLowFDs(func() {
			if r, w, err := os.Pipe(); err == nil { // a pollable file starts the poller
				r.Close()
				w.Close()
			}
		})
	})
}
