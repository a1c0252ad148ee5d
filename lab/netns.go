// Package lab builds a small network for a session: network namespaces
// held only by descriptors, and two hosts, a and b, joined by a
// point-to-point link that this process carries in user space between a
// TUN device in each, with delay, jitter, loss, duplication, reordering
// and a rate limit per direction. Nothing it makes outlives the process:
// no namespace is bind-mounted, and a TUN device dies with its namespace.
// It knows nothing of Lua or of the session.
package lab

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// ErrPermission is what making a namespace fails with where the process
// may not (it needs CAP_SYS_ADMIN: root).
var ErrPermission = errors.New("needs root (CAP_SYS_ADMIN) to make network namespaces")

// NS is a network namespace of its own, with loopback up. A goroutine
// locked to an OS thread inside it runs what Do is given; at Close the
// thread goes back to the namespace it came from before the goroutine
// lets go of it, so no other goroutine ever runs in the wrong one. Its
// methods are safe for concurrent use.
type NS struct {
	fd   int
	req  chan func()
	done chan struct{}
}

// NewNS makes a network namespace. If place is not nil it is given the
// namespace's descriptor and returns the one to keep instead (a copy at
// another number; place closes the original).
func NewNS(place func(fd int) int) (*NS, error) {
	ns := &NS{fd: -1, req: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go ns.run(ready, place)
	if err := <-ready; err != nil {
		<-ns.done
		return nil, err
	}
	return ns, nil
}

// run is the namespace's goroutine. It unlocks its thread only once the
// thread is back in its first namespace; if it cannot go back, the
// goroutine ends locked and the runtime ends the thread with it.
func (ns *NS) run(ready chan<- error, place func(int) int) {
	runtime.LockOSThread()
	defer close(ns.done)
	home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		ready <- fmt.Errorf("open the process's namespace: %w", err)
		return
	}
	if place != nil {
		home = place(home)
	}
	defer func() {
		if unix.Setns(home, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		unix.Close(home)
	}()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		if err == unix.EPERM {
			err = ErrPermission
		}
		ready <- err
		return
	}
	fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		ready <- fmt.Errorf("open the namespace: %w", err)
		return
	}
	if err := LoopbackUp(); err != nil {
		unix.Close(fd)
		ready <- err
		return
	}
	if place != nil {
		fd = place(fd)
	}
	ns.fd = fd
	ready <- nil
	for fn := range ns.req {
		fn()
	}
}

// Do runs fn inside the namespace and returns when it has: sockets and
// devices fn makes belong to the namespace.
func (ns *NS) Do(fn func()) {
	finished := make(chan struct{})
	ns.req <- func() { defer close(finished); fn() }
	<-finished
}

// Socket makes a socket inside the namespace, as socket(2) does.
func (ns *NS) Socket(domain, typ, proto int) (fd int, err error) {
	ns.Do(func() { fd, err = unix.Socket(domain, typ, proto) })
	return fd, err
}

// FD is the namespace's descriptor (for setns(2)).
func (ns *NS) FD() int { return ns.fd }

// Close ends the namespace's thread and closes its descriptor: the
// namespace goes when nothing else holds it (a socket made in it, a TUN
// device's descriptor).
func (ns *NS) Close() {
	close(ns.req)
	<-ns.done
	unix.Close(ns.fd)
}

// LoopbackUp brings up the loopback interface of the calling thread's
// network namespace.
func LoopbackUp() error {
	return withIfreq("lo", func(s int, ifr *unix.Ifreq) error { return up(s, ifr, "loopback") })
}

// up brings up the interface ifr names; what names it in an error.
func up(s int, ifr *unix.Ifreq, what string) error {
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("%s flags: %w", what, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("%s up: %w", what, err)
	}
	return nil
}

// withIfreq runs fn with an AF_INET socket of the calling thread's
// namespace, for interface ioctls, and a request naming the interface.
func withIfreq(name string, fn func(s int, ifr *unix.Ifreq) error) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	return fn(s, ifr)
}
