package sock_test

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"sockshell/sock"
)

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		err  *sock.Error
		want string
	}{
		{&sock.Error{Op: "connect", FD: 3, Addr: "127.0.0.1:1", Err: unix.ECONNREFUSED},
			"connect 3 127.0.0.1:1: ECONNREFUSED: connection refused"},
		{&sock.Error{Op: "socket", FD: -1, Addr: "inet stream", Err: unix.EMFILE},
			"socket inet stream: EMFILE: too many open files"},
		// An address a peer chose is quoted when it holds control bytes.
		{&sock.Error{Op: "sendto", FD: 3, Addr: "/tmp/\x1b]0;owned\x07\n", Err: unix.ECONNREFUSED},
			`sendto 3 "/tmp/\x1b]0;owned\a\n": ECONNREFUSED: connection refused`},
		{&sock.Error{Op: "recv", FD: 0, Err: unix.ECONNRESET},
			"recv 0: ECONNRESET: connection reset by peer"},
		{&sock.Error{Op: "accept", FD: 4, Err: unix.ETIMEDOUT},
			"accept 4: ETIMEDOUT: connection timed out"},
		{&sock.Error{Op: "recv", FD: 5, Err: unix.EINTR},
			"recv 5: EINTR: interrupted system call"},
		{&sock.Error{Op: "recvn", FD: 5, Err: sock.ErrEOF},
			"recvn 5: EOF: end of stream"},
		{&sock.Error{Op: "recv", FD: 5, Err: unix.EINVAL, Detail: "bad size 0: expected a positive number of bytes"},
			"recv 5: EINVAL: bad size 0: expected a positive number of bytes"},
		{&sock.Error{Op: "wait", FD: 6, Err: errors.New("something odd")},
			"wait 6: EIO: something odd"},
		{&sock.Error{Op: "outer", FD: 7, Err: &sock.Error{Op: "inner", FD: -1, Err: unix.EPIPE, Detail: "the inner detail"}},
			"outer 7: EPIPE: the inner detail"},
		{&sock.Error{Op: "send", FD: 4, Err: unix.ETIMEDOUT, Detail: "timed out", Sent: 3919467, Total: 8388608},
			"send 4: ETIMEDOUT: timed out (3919467 of 8388608 bytes sent)"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
	err := sock.Invalid("listen", 3, "bad backlog %d: expected a number >= 0", -5)
	if got, want := err.Error(), "listen 3: EINVAL: bad backlog -5: expected a number >= 0"; got != want {
		t.Errorf("Invalid: %q, want %q", got, want)
	}
	if !errors.Is(err, unix.EINVAL) {
		t.Error("Invalid does not unwrap to EINVAL")
	}
}

// TestErrorFromKernel: an error the kernel reports reads as the shell
// prints it and unwraps to the errno.
func TestErrorFromKernel(t *testing.T) {
	tab := newTable(t)
	b := socket(t, tab, "inet", "stream")
	addr := bind(t, tab, b, "127.0.0.1:0") // bound, not listening: refuses
	fd := socket(t, tab, "inet", "stream")
	err := tab.Connect(fd, addr)
	if err == unix.EINPROGRESS {
		err = tab.Wait(t.Context(), fd, sock.Writable, tab.Deadline(fd, patience))
		if err == nil {
			err = tab.FinishConnect(fd, addr)
		}
	}
	if want := fmt.Sprintf("connect %d %s: ECONNREFUSED: connection refused", fd, addr); err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	if !errors.Is(err, unix.ECONNREFUSED) {
		t.Error("errors.Is(err, ECONNREFUSED) is false")
	}
	if errors.Is(err, unix.ETIMEDOUT) {
		t.Error("errors.Is(err, ETIMEDOUT) is true")
	}
	var e *sock.Error
	if !errors.As(err, &e) || e.Op != "connect" || e.FD != fd || e.Addr != addr || e.Err != unix.ECONNREFUSED {
		t.Errorf("fields: %#v", e)
	}
	// An address error met by an operation names that operation.
	err = tab.Bind(fd, "nowhere")
	if want := fmt.Sprintf(`bind %d nowhere: EINVAL: bad address "nowhere": expected host:port or [v6addr]:port`, fd); err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	err = tab.Connect(fd, "[::1]:80")
	wantErr(t, err, "EINVAL", fmt.Sprintf("connect %d [::1]:80: EINVAL: ", fd), "expected an IPv4 address for an inet socket")
	_, err = tab.SendTo(fd, "x", "1.2.3.4:99999")
	wantErr(t, err, "EINVAL", fmt.Sprintf("sendto %d 1.2.3.4:99999: EINVAL: ", fd), "expected a port from 0 to 65535")
}

func TestCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{unix.EAGAIN, "EAGAIN"},
		{unix.EINPROGRESS, "EINPROGRESS"},
		{unix.ECONNREFUSED, "ECONNREFUSED"},
		{unix.ETIMEDOUT, "ETIMEDOUT"},
		{unix.EINTR, "EINTR"},
		{unix.EBADF, "EBADF"},
		{unix.EADDRINUSE, "EADDRINUSE"},
		{unix.EPIPE, "EPIPE"},
		{unix.EMSGSIZE, "EMSGSIZE"},
		// Linux gives EOPNOTSUPP and ENOTSUP one number; the socket man
		// pages (listen(2), send(2), accept(2)) call it EOPNOTSUPP.
		{unix.EOPNOTSUPP, "EOPNOTSUPP"},
		{unix.Errno(4000), "E4000"},
		{sock.ErrEOF, "EOF"},
		{fmt.Errorf("framing: %w", sock.ErrEOF), "EOF"},
		{&sock.Error{Op: "recv", FD: 3, Err: unix.ECONNRESET}, "ECONNRESET"},
		{fmt.Errorf("wrapped: %w", &sock.Error{Op: "recv", FD: 3, Err: unix.EPIPE}), "EPIPE"},
		{errors.New("not an errno"), "EIO"},
	} {
		if got := sock.Code(tc.err); got != tc.want {
			t.Errorf("Code(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
