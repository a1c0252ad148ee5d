package sock_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// recvUnit calls one of the framing helpers until it stops returning
// EAGAIN, or the deadline passes.
func recvUnit(tab *sock.Table, fd int, deadline time.Time, f func() ([]byte, error)) (string, error) {
	var b []byte
	err := tab.Do(context.Background(), fd, sock.Readable, deadline, func() (err error) {
		b, err = f()
		return err
	})
	return string(b), err
}

// TestIncompleteUnitKept: when the stream ends (or the wait times out)
// before a whole unit arrived, the helper fails with EOF (ETIMEDOUT) and
// the bytes it read stay buffered for the next receive call.
func TestIncompleteUnitKept(t *testing.T) {
	for _, tc := range []struct {
		name string
		sent string
		call func(tab *sock.Table, fd int) ([]byte, error)
	}{
		{"recvn", "abcd", func(tab *sock.Table, fd int) ([]byte, error) { return tab.RecvN(fd, 10, 0) }},
		{"recvuntil", "no newline", func(tab *sock.Table, fd int) ([]byte, error) { return tab.RecvUntil(fd, "\n", 0) }},
		{"recvframe", "\x00\x00\x00\x0ashort", func(tab *sock.Table, fd int) ([]byte, error) { return tab.RecvFrame(fd, "", 0) }},
	} {
		t.Run(tc.name+"/eof", func(t *testing.T) {
			tab := newTable(t)
			a, b := pair(t, tab, "inet")
			send(t, tab, a, tc.sent)
			if err := tab.Close(a); err != nil {
				t.Fatal(err)
			}
			_, err := recvUnit(tab, b, time.Now().Add(patience), func() ([]byte, error) { return tc.call(tab, b) })
			wantErr(t, err, "EOF", fmt.Sprintf("%s %d: EOF: ", tc.name, b), fmt.Sprintf("(%d bytes kept for the next receive)", len(tc.sent)))
			if !errors.Is(err, sock.ErrEOF) {
				t.Errorf("errors.Is(%v, ErrEOF) is false", err)
			}
			if in := info(t, tab, b); in.Buffered != len(tc.sent) || in.Received != int64(len(tc.sent)) {
				t.Errorf("after EOF: buffered %d received %d, want %d", in.Buffered, in.Received, len(tc.sent))
			}
			// Asking again gives the same answer and keeps the bytes.
			_, err = tc.call(tab, b)
			wantErr(t, err, "EOF")
			if got := recv(t, tab, b, 100); got != tc.sent {
				t.Errorf("recv after EOF: %q, want the kept %q", got, tc.sent)
			}
			if got := recv(t, tab, b, 100); got != "" {
				t.Errorf("then recv %q, want end of stream", got)
			}
		})
		t.Run(tc.name+"/timeout", func(t *testing.T) {
			tab := newTable(t)
			a, b := pair(t, tab, "unix")
			send(t, tab, a, tc.sent)
			start := time.Now()
			_, err := recvUnit(tab, b, start.Add(100*time.Millisecond), func() ([]byte, error) { return tc.call(tab, b) })
			if !errors.Is(err, unix.ETIMEDOUT) || sock.Code(err) != "ETIMEDOUT" {
				t.Fatalf("got %v, want ETIMEDOUT", err)
			}
			if in := info(t, tab, b); in.Buffered != len(tc.sent) {
				t.Errorf("after the timeout: %d bytes buffered, want %d", in.Buffered, len(tc.sent))
			}
			// The rest arrives: the next call completes the unit from
			// the kept bytes.
			rest := map[string]string{"recvn": "efghij", "recvuntil": " here\nnext", "recvframe": "!!!!!next"}[tc.name]
			send(t, tab, a, rest)
			got, err := recvUnit(tab, b, time.Now().Add(patience), func() ([]byte, error) { return tc.call(tab, b) })
			want := map[string]string{"recvn": "abcdefghij", "recvuntil": "no newline here\n", "recvframe": "short!!!!!"}[tc.name]
			if err != nil || got != want {
				t.Errorf("completed: %q %v, want %q", got, err, want)
			}
			if tc.name != "recvn" {
				if got := recv(t, tab, b, 100); got != "next" {
					t.Errorf("what followed the unit: %q, want \"next\"", got)
				}
			}
		})
	}
}

// TestUnread puts bytes back in front of what the kernel holds.
func TestUnread(t *testing.T) {
	tab := newTable(t)
	a, b := pair(t, tab, "unix")
	send(t, tab, a, "kernel")
	eventually(t, tab, b, "6 bytes queued", func(in sock.Info) bool { return in.RecvQ == 6 })
	tab.Unread(b, []byte("ab"))
	tab.Unread(b, []byte("12"))
	tab.Unread(b, nil)
	if in := info(t, tab, b); in.Buffered != 4 || in.RecvQ != 6 || in.Received != 0 {
		t.Errorf("info: %+v", in)
	}
	if got := recv(t, tab, b, 3); got != "12a" {
		t.Errorf("recv %q, want \"12a\"", got)
	}
	if got := recv(t, tab, b, 100); got != "b" {
		t.Errorf("recv %q, want \"b\" (buffered bytes come alone)", got)
	}
	if got := recv(t, tab, b, 100); got != "kernel" {
		t.Errorf("recv %q", got)
	}
	// Unread bytes feed the framing helpers too, and the caller's slice
	// is copied, not kept.
	p := []byte("line")
	tab.Unread(b, p)
	copy(p, "XXXX")
	send(t, tab, a, " one\nrest")
	if got, err := recvUnit(tab, b, time.Now().Add(patience), func() ([]byte, error) { return tab.RecvUntil(b, "\n", 0) }); err != nil || got != "line one\n" {
		t.Errorf("recvuntil: %q %v", got, err)
	}
	if got := recvN(t, tab, b, 4); got != "rest" {
		t.Errorf("recvn %q", got)
	}
}

// TestRecvUntilSplitDelimiter: a delimiter that arrives in two pieces.
func TestRecvUntilSplitDelimiter(t *testing.T) {
	tab := newTable(t)
	a, b := pair(t, tab, "inet")
	send(t, tab, a, "GET / HTTP/1.0\r")
	eventually(t, tab, b, "the first part", func(in sock.Info) bool { return in.RecvQ == 15 })
	if _, err := tab.RecvUntil(b, "\r\n", 0); err != unix.EAGAIN {
		t.Fatalf("recvuntil with half a delimiter: %v, want EAGAIN", err)
	}
	if in := info(t, tab, b); in.Buffered != 15 || in.RecvQ != 0 {
		t.Errorf("the first part should have moved to the buffer: %+v", in)
	}
	send(t, tab, a, "\nHost: x\r\n\r\n")
	for _, want := range []string{"GET / HTTP/1.0\r\n", "Host: x\r\n", "\r\n"} {
		got, err := recvUnit(tab, b, time.Now().Add(patience), func() ([]byte, error) { return tab.RecvUntil(b, "\r\n", 0) })
		if err != nil || got != want {
			t.Errorf("recvuntil: %q %v, want %q", got, err, want)
		}
	}
	if in := info(t, tab, b); in.Buffered != 0 || in.Received != 27 {
		t.Errorf("info: %+v", in)
	}
}

// TestFrames round-trips frames of every header kind, several sent in one
// piece ("sticky packets") and taken apart by RecvFrame.
func TestFrames(t *testing.T) {
	headers := map[string]string{
		"u8":    "\x03abc",
		"u16be": "\x00\x03abc",
		"u16le": "\x03\x00abc",
		"u32be": "\x00\x00\x00\x03abc",
		"u32le": "\x03\x00\x00\x00abc",
		"":      "\x00\x00\x00\x03abc", // the default is u32be
	}
	for kind, want := range headers {
		if got, err := sock.Frame(3, kind, "abc"); err != nil || string(got) != want {
			t.Errorf("Frame(%q, abc) = %q %v, want %q", kind, got, err, want)
		}
	}
	if len(sock.FrameHeaders()) != 5 {
		t.Errorf("FrameHeaders: %v", sock.FrameHeaders())
	}
	for _, kind := range sock.FrameHeaders() {
		t.Run(kind, func(t *testing.T) {
			tab := newTable(t)
			a, b := pair(t, tab, "inet")
			limit := map[string]int{"u8": 255, "u16be": 65535, "u16le": 65535, "u32be": 1 << 20, "u32le": 1 << 20}[kind]
			payloads := []string{"", "x", "hello, world", strings.Repeat("z", 255), strings.Repeat("\x00\xff", limit/2)}
			var all []byte
			for _, p := range payloads {
				f, err := sock.Frame(a, kind, p)
				if err != nil {
					t.Fatalf("Frame %d bytes: %v", len(p), err)
				}
				all = append(all, f...)
			}
			send(t, tab, a, string(all)) // all frames in one stream
			for _, p := range payloads {
				got, err := recvUnit(tab, b, time.Now().Add(patience), func() ([]byte, error) { return tab.RecvFrame(b, kind, 0) })
				if err != nil || got != p {
					t.Fatalf("RecvFrame: %d bytes %v, want %d bytes", len(got), err, len(p))
				}
			}
			if in := info(t, tab, b); in.Buffered != 0 || in.Received != int64(len(all)) {
				t.Errorf("after the frames: %+v", in)
			}
			if kind == "u8" || kind == "u16be" || kind == "u16le" {
				_, err := sock.Frame(a, kind, strings.Repeat("x", limit+1))
				wantErr(t, err, "EINVAL", fmt.Sprintf("sendframe %d: EINVAL: %d bytes do not fit a %s length", a, limit+1, kind))
			}
		})
	}
	_, err := sock.Frame(3, "u64be", "x")
	wantErr(t, err, "EINVAL", `sendframe 3: EINVAL: bad header "u64be": expected u8, u16be, u32be, u16le or u32le`)
	tab := newTable(t)
	a, _ := pair(t, tab, "unix")
	_, err = tab.RecvFrame(a, "u24", 0)
	wantErr(t, err, "EINVAL", fmt.Sprintf(`recvframe %d: EINVAL: bad header "u24": expected u8, u16be, u32be, u16le or u32le`, a))
}

// TestOversizedFrame: a header announcing more than the limit is refused
// at once with EMSGSIZE, without waiting for (or buffering) the payload.
func TestOversizedFrame(t *testing.T) {
	for _, tc := range []struct {
		kind, header string
		limit        int
		from         string
	}{
		{"u32be", "\xff\xff\xff\xff", 0, "maxrecv"},
		{"u32le", "\x01\x00\x40\x00", 0, "maxrecv"}, // DefaultMaxRecv + 1
		{"u16be", "\x00\x0b", 10, "the call's LIMIT"},
	} {
		tab := newTable(t)
		a, b := pair(t, tab, "unix")
		send(t, tab, a, tc.header+"payload")
		_, err := recvUnit(tab, b, time.Now().Add(patience), func() ([]byte, error) { return tab.RecvFrame(b, tc.kind, tc.limit) })
		want := sock.DefaultMaxRecv
		if tc.limit > 0 {
			want = tc.limit
		}
		wantErr(t, err, "EMSGSIZE", fmt.Sprintf("recvframe %d: EMSGSIZE: frame of ", b), fmt.Sprintf("more than %d (limit: %s)", want, tc.from))
		// Nothing is lost: the bytes are there for a plain recv.
		if got := recv(t, tab, b, 100); got != tc.header+"payload" {
			t.Errorf("recv after EMSGSIZE: %q", got)
		}
	}
	// Exactly the limit is allowed: the header is accepted and the helper
	// waits for the payload.
	tab := newTable(t)
	a, b := pair(t, tab, "unix")
	send(t, tab, a, "\x00\x40\x00\x00")
	_, err := recvUnit(tab, b, time.Now().Add(50*time.Millisecond), func() ([]byte, error) { return tab.RecvFrame(b, "u32be", 0) })
	if !errors.Is(err, unix.ETIMEDOUT) {
		t.Errorf("a header of DefaultMaxRecv: %v, want ETIMEDOUT while waiting for the payload", err)
	}
}

// TestStickyPackets: two sends can arrive as one recv; RecvN takes them
// apart again.
func TestStickyPackets(t *testing.T) {
	tab := newTable(t)
	a, b := pair(t, tab, "inet")
	send(t, tab, a, "ping")
	send(t, tab, a, "pong")
	eventually(t, tab, b, "both sends queued", func(in sock.Info) bool { return in.RecvQ == 8 })
	if got := recv(t, tab, b, 100); got != "pingpong" {
		t.Errorf("recv %q, want the two sends stuck together", got)
	}
	send(t, tab, a, "pingpong")
	for _, want := range []string{"ping", "pong"} {
		if got := recvN(t, tab, b, 4); got != want {
			t.Errorf("recvn %q, want %q", got, want)
		}
	}

	// recvfrom on a stream names the peer, for kernel and buffered bytes.
	peer := sockname(t, tab, a)
	send(t, tab, a, "from")
	eventually(t, tab, b, "4 bytes queued", func(in sock.Info) bool { return in.RecvQ == 4 })
	got, from, err := tab.RecvFrom(b, 2)
	if err != nil || string(got) != "fr" || sock.FormatAddr(from) != peer {
		t.Errorf("recvfrom on a stream: %q from %q (%v), want \"fr\" from %s", got, sock.FormatAddr(from), err, peer)
	}
	tab.Unread(b, []byte("X"))
	got, from, err = tab.RecvFrom(b, 10)
	if err != nil || string(got) != "X" || sock.FormatAddr(from) != peer {
		t.Errorf("recvfrom of buffered bytes: %q from %q (%v), want \"X\" from %s", got, sock.FormatAddr(from), err, peer)
	}
	if got := recv(t, tab, b, 10); got != "om" {
		t.Errorf("recv %q", got)
	}
}
