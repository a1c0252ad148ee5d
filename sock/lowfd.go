package sock

import "golang.org/x/sys/unix"

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
