package sock

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The hot path is one raw, non-blocking syscall per send or recv, with no
// allocation; raw is safe because MSG_DONTWAIT keeps it from blocking.
// TrySend and TryRecv make theirs in their own body, through
// syscall.RawSyscall6 rather than unix.RawSyscall6 (an assembly jump to it,
// behind an ABI wrapper), so that few calls stand between their caller and
// the kernel. That matters more than it looks: a syscall that runs the TCP
// stack leaves the CPU's return predictor full of kernel frames, and every
// return on the way back up mispredicts.

const (
	sendFlags = unix.MSG_NOSIGNAL | unix.MSG_DONTWAIT
	recvFlags = unix.MSG_DONTWAIT
)

// ptr is the address of data for a syscall. For empty data it may be
// anything: the kernel reads nothing.
func ptr(data string) uintptr { return uintptr(unsafe.Pointer(unsafe.StringData(data))) }

func bufPtr(buf []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(buf))) }

func recvfrom(fd int, buf []byte) (int, unix.Errno) {
	n, _, errno := syscall.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), bufPtr(buf), uintptr(len(buf)), recvFlags, 0, 0)
	return int(n), errno
}
