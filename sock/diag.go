package sock

import (
	"encoding/binary"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel tells an AF_UNIX listening socket's accept queue and backlog
// through sock_diag netlink only (SIOCINQ on one is EINVAL): the request
// is a unix_diag_req for one socket, found by its inode, asking for
// UNIX_DIAG_RQLEN — what ss shows as its Recv-Q and Send-Q. x/sys/unix has
// the netlink basics; these are from include/uapi/linux/unix_diag.h.
const (
	udiagShowRQLen = 0x10 // UDIAG_SHOW_RQLEN
	unixDiagRQLen  = 4    // UNIX_DIAG_RQLEN: struct unix_diag_rqlen
	diagNoCookie   = ^uint32(0)
)

// unixDiagReq is struct unix_diag_req.
type unixDiagReq struct {
	Family   uint8
	Protocol uint8
	_        uint16
	States   uint32
	Ino      uint32
	Show     uint32
	Cookie   [2]uint32
}

// unixDiagMsgLen is the size of struct unix_diag_msg, which the reply's
// attributes follow.
const unixDiagMsgLen = 16

// unixQueues asks the kernel for the queue lengths of the AF_UNIX socket
// behind fd: for a listening socket the connections waiting to be accepted
// and the backlog, for any other the bytes (stream) or the next datagram's
// size (dgram) waiting to be read, and the memory its sent data still
// holds — the SIOCINQ and SIOCOUTQ figures.
func unixQueues(fd int) (rq, wq int, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, 0, err
	}
	nl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Close(nl)

	const hdrLen = unix.SizeofNlMsghdr
	req := make([]byte, hdrLen+int(unsafe.Sizeof(unixDiagReq{})))
	*(*unix.NlMsghdr)(unsafe.Pointer(&req[0])) = unix.NlMsghdr{
		Len: uint32(len(req)), Type: unix.SOCK_DIAG_BY_FAMILY, Flags: unix.NLM_F_REQUEST, Seq: 1,
	}
	*(*unixDiagReq)(unsafe.Pointer(&req[hdrLen])) = unixDiagReq{
		Family: unix.AF_UNIX, States: ^uint32(0), Ino: uint32(st.Ino), Show: udiagShowRQLen,
		Cookie: [2]uint32{diagNoCookie, diagNoCookie},
	}
	if err := unix.Sendto(nl, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, 0, err
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(nl, buf, 0)
	if err != nil {
		return 0, 0, err
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return 0, 0, err
	}
	for _, m := range msgs {
		switch m.Header.Type {
		case unix.NLMSG_ERROR:
			if len(m.Data) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(m.Data)); code < 0 {
					return 0, 0, unix.Errno(-code)
				}
			}
			return 0, 0, unix.EIO
		case unix.SOCK_DIAG_BY_FAMILY:
			if len(m.Data) < unixDiagMsgLen {
				return 0, 0, unix.EIO
			}
			attrs := m.Data[unixDiagMsgLen:]
			for len(attrs) >= unix.SizeofRtAttr {
				l := int(binary.NativeEndian.Uint16(attrs))
				typ := binary.NativeEndian.Uint16(attrs[2:])
				if l < unix.SizeofRtAttr || l > len(attrs) {
					break
				}
				if typ == unixDiagRQLen && l >= unix.SizeofRtAttr+8 {
					v := attrs[unix.SizeofRtAttr:]
					return int(binary.NativeEndian.Uint32(v)), int(binary.NativeEndian.Uint32(v[4:])), nil
				}
				attrs = attrs[min(len(attrs), (l+3)&^3):]
			}
		}
	}
	return 0, 0, unix.ENOENT
}
