//go:build !amd64

package sock

import "golang.org/x/sys/unix"

// Architectures without an assembly version use the Go one.

func rawSend(fd int, data string) (int, unix.Errno) { return sendGo(fd, data) }

func rawRecv(fd int, buf []byte) (int, unix.Errno) { return recvGo(fd, buf) }
