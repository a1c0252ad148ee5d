// Package sock is sockshell's engine: real BSD sockets through
// golang.org/x/sys/unix, a table of the descriptors a session opened, their
// addresses and kernel state (TCP_INFO, SIOCINQ/SIOCOUTQ, sock_diag), and
// errors that name the operation, descriptor and errno.
//
// It knows nothing of Lua, the shell or recordings.
//
// Every socket is non-blocking underneath. Operations make one attempt and
// return unix.EAGAIN (or unix.EINPROGRESS for connect) when they would block;
// the caller waits for readiness — with Table.Wait, or with its own scheduler
// — and tries again. That keeps one syscall per ready call and lets a single
// goroutine serve many waiting descriptors.
//
// A Table is not safe for concurrent use: one goroutine owns it. The
// package's lists (Options, DomainNames, TypeNames, FrameHeaders) are
// handed out as copies, so nobody can change them.
package sock
