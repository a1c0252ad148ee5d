package sock

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Passing descriptors between processes over AF_UNIX sockets (SCM_RIGHTS):
// the kernel gives the receiver a new descriptor of the same open socket,
// as fork and exec do for inherited ones. A message carrying descriptors
// must carry at least one byte of data too.

// maxPassed is how many descriptors one received message may carry before
// the kernel truncates the control data; every one past the first is closed.
const maxPassed = 16

// SendFD sends data with a copy of the descriptor passed attached, over the
// AF_UNIX socket fd, with one sendmsg(2). It returns the number of bytes of
// data the kernel took (on a stream, maybe part: the descriptor went with
// the first of them), or unix.EAGAIN (unwrapped) when the send buffer is
// full. The sender keeps its own descriptor.
func (t *Table) SendFD(fd, passed int, data string) (int, error) {
	e, err := t.Get("sendfd", fd)
	if err != nil {
		return 0, err
	}
	if _, err := t.Get("sendfd", passed); err != nil {
		return 0, err
	}
	if e.Domain != unix.AF_UNIX {
		return 0, &Error{Op: "sendfd", FD: fd, Err: unix.EOPNOTSUPP, Detail: "descriptors travel only over AF_UNIX sockets"}
	}
	if data == "" {
		return 0, Invalid("sendfd", fd, "empty data: at least one byte must travel with a descriptor")
	}
	oob := unix.UnixRights(passed)
	n, err := unix.SendmsgN(fd, unsafe.Slice(unsafe.StringData(data), len(data)), oob, nil, unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
	if err != nil {
		if err == unix.EAGAIN || err == unix.EINTR {
			return 0, unix.EAGAIN
		}
		return 0, &Error{Op: "sendfd", FD: fd, Err: err}
	}
	e.Sent += int64(n)
	return n, nil
}

// RecvFD receives one message of at most max bytes from the AF_UNIX socket
// fd with recvmsg(2) and the descriptor that came with it, which joins the
// table (Adopt): its new number, and the data. Received descriptors are
// close-on-exec from the start (MSG_CMSG_CLOEXEC); any beyond the first
// that a peer sent are closed, and so is one that is not a socket the
// table can hold. Data that came without a descriptor is kept for the next
// receive call, and RecvFD fails with ENOMSG; at end of stream it fails
// with ErrEOF. It returns unix.EAGAIN (unwrapped) when nothing is there.
func (t *Table) RecvFD(fd, max int) (int, []byte, error) {
	e, err := t.Get("recvfd", fd)
	if err != nil {
		return -1, nil, err
	}
	if e.Domain != unix.AF_UNIX {
		return -1, nil, &Error{Op: "recvfd", FD: fd, Err: unix.EOPNOTSUPP, Detail: "descriptors travel only over AF_UNIX sockets"}
	}
	if max <= 0 {
		return -1, nil, Invalid("recvfd", fd, "bad size %d: expected a positive number of bytes", max)
	}
	buf := t.buffer(max)
	oob := make([]byte, unix.CmsgSpace(maxPassed*4))
	n, oobn, flags, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		if err == unix.EAGAIN || err == unix.EINTR {
			return -1, nil, unix.EAGAIN
		}
		return -1, nil, &Error{Op: "recvfd", FD: fd, Err: err}
	}
	e.Received += int64(n)
	got := receivedFDs(oob[:oobn])
	if len(got) == 0 {
		if n == 0 && e.Type != unix.SOCK_DGRAM {
			return -1, nil, &Error{Op: "recvfd", FD: fd, Err: ErrEOF, Detail: "end of stream: no descriptor came"}
		}
		t.Unread(fd, buf[:n])
		detail := "data came without a descriptor (kept for the next receive)"
		if flags&unix.MSG_CTRUNC != 0 {
			detail = "the descriptors sent did not fit (the kernel dropped them); the data is kept for the next receive"
		}
		return -1, nil, &Error{Op: "recvfd", FD: fd, Err: unix.ENOMSG, Detail: detail}
	}
	for _, extra := range got[1:] {
		unix.Close(extra)
	}
	nfd := got[0]
	if _, err := t.Adopt("recvfd", nfd); err != nil {
		unix.Close(nfd)
		if se, ok := err.(*Error); ok {
			c := *se
			c.FD = fd
			c.Detail += " (received and closed)"
			return -1, nil, &c
		}
		return -1, nil, err
	}
	return nfd, buf[:n], nil
}

// receivedFDs returns every descriptor in the control data of a message.
func receivedFDs(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			continue
		}
		if got, err := unix.ParseUnixRights(&msgs[i]); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

// Cred is the process at the other end of an AF_UNIX socket, as the kernel
// recorded it when the socket was connected (or the pair made).
type Cred struct{ PID, UID, GID int }

// PeerCred returns the credentials of fd's peer (SO_PEERCRED).
func (t *Table) PeerCred(fd int) (Cred, error) {
	e, err := t.Get("peercred", fd)
	if err != nil {
		return Cred{}, err
	}
	if e.Domain != unix.AF_UNIX {
		return Cred{}, &Error{Op: "peercred", FD: fd, Err: unix.EOPNOTSUPP, Detail: "peer credentials are kept only for AF_UNIX sockets"}
	}
	u, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return Cred{}, &Error{Op: "peercred", FD: fd, Err: err}
	}
	if u.Pid == 0 {
		return Cred{}, &Error{Op: "peercred", FD: fd, Err: unix.ENOTCONN, Detail: "no peer: the socket is not connected"}
	}
	return Cred{PID: int(u.Pid), UID: int(u.Uid), GID: int(u.Gid)}, nil
}
