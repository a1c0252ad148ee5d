package sock

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendto and recvfrom are the hot path: one raw, non-blocking syscall each,
// no allocation. Raw is safe because MSG_DONTWAIT keeps them from blocking.

func sendto(fd int, data string) (int, unix.Errno) {
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(unsafe.StringData(data))
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(p), uintptr(len(data)),
		unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT, 0, 0)
	return int(n), errno
}

func recvfrom(fd int, buf []byte) (int, unix.Errno) {
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
		unix.MSG_DONTWAIT, 0, 0)
	return int(n), errno
}
