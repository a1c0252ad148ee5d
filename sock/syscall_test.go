package sock_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// TestRawSyscalls holds the raw send and recv (assembly on amd64) to their
// Go versions on a real socket pair: data, a partial read, an empty send,
// EAGAIN, end of stream, EPIPE without SIGPIPE, EBADF.
func TestRawSyscalls(t *testing.T) {
	type impl struct {
		name string
		send func(int, string) (int, unix.Errno)
		recv func(int, []byte) (int, unix.Errno)
	}
	for _, im := range []impl{{"raw", sock.RawSend, sock.RawRecv}, {"go", sock.SendGo, sock.RecvGo}} {
		t.Run(im.name, func(t *testing.T) {
			noSIGPIPE(t)
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			a, b := fds[0], fds[1]
			defer unix.Close(a)
			buf := make([]byte, 8)
			check := func(what string, n int, errno unix.Errno, wantN int, wantErr unix.Errno) {
				t.Helper()
				if n != wantN || errno != wantErr {
					t.Errorf("%s = %d, %v; want %d, %v", what, n, errno, wantN, wantErr)
				}
			}

			n, errno := im.send(a, "hello, world")
			check(`send(a, "hello, world")`, n, errno, 12, 0)
			n, errno = im.send(a, "")
			check(`send(a, "")`, n, errno, 0, 0)
			n, errno = im.recv(b, buf)
			check("recv(b, 8)", n, errno, 8, 0)
			if got := string(buf[:n]); got != "hello, w" {
				t.Errorf("recv(b, 8) read %q", got)
			}
			n, errno = im.recv(b, buf)
			check("recv(b, 8) again", n, errno, 4, 0)
			if got := string(buf[:n]); got != "orld" {
				t.Errorf("recv(b, 8) again read %q", got)
			}
			n, errno = im.recv(b, buf)
			check("recv(b) with nothing there", n, errno, 0, unix.EAGAIN)

			if err := unix.Shutdown(a, unix.SHUT_WR); err != nil {
				t.Fatal(err)
			}
			n, errno = im.recv(b, buf)
			check("recv(b) at end of stream", n, errno, 0, 0)
			unix.Close(b)
			n, errno = im.send(a, "x")
			check("send(a) after the peer closed", n, errno, 0, unix.EPIPE)
			n, errno = im.send(b, "x")
			check("send on a closed descriptor", n, errno, 0, unix.EBADF)
			n, errno = im.recv(b, buf)
			check("recv on a closed descriptor", n, errno, 0, unix.EBADF)
		})
	}
}

// TestRawSendFull fills a send buffer: both versions then give EAGAIN, not a
// wait (the calls are raw: they must never block).
func TestRawSendFull(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	chunk := string(make([]byte, 64<<10))
	total := 0
	for range 1000 {
		n, errno := sock.RawSend(fds[0], chunk)
		if errno == unix.EAGAIN {
			break
		}
		if errno != 0 {
			t.Fatalf("send after %d bytes: %v", total, errno)
		}
		total += n
	}
	if total == 0 || total >= 1000*len(chunk) {
		t.Fatalf("sent %d bytes before EAGAIN", total)
	}
	for _, send := range []func(int, string) (int, unix.Errno){sock.RawSend, sock.SendGo} {
		if n, errno := send(fds[0], chunk); n != 0 || errno != unix.EAGAIN {
			t.Errorf("send into a full buffer = %d, %v; want 0, EAGAIN", n, errno)
		}
	}
}
