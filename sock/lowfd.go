package sock

import "golang.org/x/sys/unix"

// lowFDs is how many descriptor numbers are kept for the session's sockets.
const lowFDs = 100

// KeepLowFDs runs fn while the descriptor numbers below 100 are taken, so
// that whatever fn opens for the program's own use (a history file, the Go
// runtime's poller) lands above them and a session's first socket is fd 3,
// as in every socket tutorial.
func KeepLowFDs(fn func()) {
	var held []int
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		held = append(held, fd)
		if fd >= lowFDs-1 {
			break
		}
	}
	defer func() {
		for _, fd := range held {
			unix.Close(fd)
		}
	}()
	fn()
}
