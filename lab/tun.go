package lab

import (
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// tunName is the name of the link's device in each host.
const tunName = "lab0"

// openTUN makes the link's end in ns: a TUN device (IP packets, no
// header before them) with the address local and its peer at the other
// end, up. The device exists while the returned file is open. place moves
// the descriptor as NewNS's does.
func openTUN(ns *NS, local, peer netip.Addr, place func(int) int) (*os.File, error) {
	var fd int
	var err error
	ns.Do(func() { fd, err = tunIn(local, peer) })
	if err != nil {
		return nil, err
	}
	if place != nil {
		fd = place(fd)
	}
	// Non-blocking, the file's reads and writes wait in Go's poller, not
	// on a thread.
	return os.NewFile(uintptr(fd), "/dev/net/tun"), nil
}

// tunIn makes and sets up the device in the calling thread's namespace.
func tunIn(local, peer netip.Addr) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(tunName)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("make the TUN device: %w", err)
	}
	// Without IPv6 the device sends nothing of its own (router
	// solicitations, MLD reports) for the link to carry. A kernel
	// without IPv6 has no such file: nothing to turn off.
	if f, err := os.OpenFile("/proc/sys/net/ipv6/conf/"+tunName+"/disable_ipv6", os.O_WRONLY, 0); err == nil {
		f.WriteString("1")
		f.Close()
	}
	err = withIfreq(tunName, func(s int, ifr *unix.Ifreq) error {
		for _, step := range []struct {
			what string
			req  uint
			addr netip.Addr
		}{
			{"address", unix.SIOCSIFADDR, local},
			{"peer address", unix.SIOCSIFDSTADDR, peer},
			{"netmask", unix.SIOCSIFNETMASK, netip.AddrFrom4([4]byte{255, 255, 255, 255})},
		} {
			if err := ifr.SetInet4Addr(step.addr.AsSlice()); err != nil {
				return err
			}
			if err := unix.IoctlIfreq(s, step.req, ifr); err != nil {
				return fmt.Errorf("set the link's %s: %w", step.what, err)
			}
		}
		return up(s, ifr, "link")
	})
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
