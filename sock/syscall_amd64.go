package sock

import "golang.org/x/sys/unix"

// rawSend is sendto(fd, data, len(data), sendFlags, NULL, 0): the bytes
// sent, or 0 and the errno.
//
//go:noescape
func rawSend(fd int, data string) (n int, errno unix.Errno)

// rawRecv is recvfrom(fd, buf, len(buf), recvFlags, NULL, NULL): the bytes
// read, or 0 and the errno.
//
//go:noescape
func rawRecv(fd int, buf []byte) (n int, errno unix.Errno)
