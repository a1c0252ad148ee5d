package sock

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The hot path is one raw, non-blocking syscall per send or recv, with no
// allocation; raw (no scheduler hand-off) is safe because MSG_DONTWAIT keeps
// it from blocking. The caller finds the entry (SendEntry, RecvEntry) and
// calls its SendNow or RecvNow, both small enough to be inlined, so that the
// syscall instruction is one call below the caller: on amd64 it is made by
// rawSend and rawRecv in assembly (syscall_amd64.s); elsewhere through
// syscall.RawSyscall6 (sendGo and recvGo below).
//
// The number of calls matters more than it looks. A syscall that runs the
// TCP stack leaves the CPU's return predictor full of kernel frames, and
// every return on the way back up to the Lua interpreter mispredicts: going
// from three calls to one made a 1-byte ping-pong about 1% faster
// (go run ./bench -only pingpong).

// Exported to syscall_amd64.s through go_asm.h.
const (
	sysSendto   = unix.SYS_SENDTO
	sysRecvfrom = unix.SYS_RECVFROM
	sendFlags   = unix.MSG_NOSIGNAL | unix.MSG_DONTWAIT
	recvFlags   = unix.MSG_DONTWAIT
)

// SendEntry returns fd's entry if a send on fd can go straight to the
// kernel (fd is one of the table's sockets, with no TLS or tap on it), or
// nil.
func (t *Table) SendEntry(fd int) *Entry {
	if uint(fd) >= uint(len(t.entries)) {
		return nil
	}
	if e := t.entries[fd]; e != nil && e.layer == nil {
		return e
	}
	return nil
}

// RecvEntry returns fd's entry and a buffer of at most max bytes if a recv
// on fd can go straight to the kernel: fd is one of the table's sockets,
// max is positive, no bytes wait in the entry's own buffer (Recv returns
// those first) and no TLS or tap is on it. Otherwise it returns nil. The
// buffer is the table's, valid until its next receive.
func (t *Table) RecvEntry(fd, max int) (*Entry, []byte) {
	if uint(fd) >= uint(len(t.entries)) || max <= 0 {
		return nil, nil
	}
	e := t.entries[fd]
	if e == nil || len(e.pending) > 0 || e.layer != nil {
		return nil, nil
	}
	return e, t.buffer(max)
}

// SendNow makes one non-blocking send(2) of data with MSG_NOSIGNAL and
// returns what it returned: the bytes the kernel took, or 0 and an errno
// (EAGAIN when the send buffer is full).
func (e *Entry) SendNow(data string) (int, unix.Errno) {
	n, errno := rawSend(e.FD, data)
	e.Sent += int64(n)
	return n, errno
}

// RecvNow makes one non-blocking recv(2) into buf and returns the bytes it
// read (empty at end of stream), or an errno (EAGAIN when nothing is there).
func (e *Entry) RecvNow(buf []byte) ([]byte, unix.Errno) {
	n, errno := rawRecv(e.FD, buf)
	e.Received += int64(n)
	return buf[:n], errno
}

// sendGo and recvGo are rawSend and rawRecv written in Go: what
// architectures without the assembly use, and what the tests hold the
// assembly to.

func sendGo(fd int, data string) (int, unix.Errno) {
	r, _, errno := syscall.RawSyscall6(sysSendto, uintptr(fd), uintptr(unsafe.Pointer(unsafe.StringData(data))), uintptr(len(data)), sendFlags, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), 0
}

func recvGo(fd int, buf []byte) (int, unix.Errno) {
	r, _, errno := syscall.RawSyscall6(sysRecvfrom, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(buf))), uintptr(len(buf)), recvFlags, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), 0
}
