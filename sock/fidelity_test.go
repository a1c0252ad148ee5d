package sock_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// slowReader reads fd on its own goroutine, 16 KiB a millisecond, until
// it has n bytes or the stream ends, and returns what it read. The table
// is not touched: only the kernel's descriptor is.
func slowReader(fd, n int) func() []byte {
	var got bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 16<<10)
		for got.Len() < n {
			time.Sleep(time.Millisecond)
			k, err := unix.Read(fd, buf)
			switch {
			case err == unix.EAGAIN || err == unix.EINTR:
				continue
			case err != nil || k == 0:
				return
			}
			got.Write(buf[:k])
		}
	}()
	return func() []byte { wg.Wait(); return got.Bytes() }
}

// TestSendRestQueuesAll: 8 MiB to a slow reader go in many partial
// send(2)s; SendRest keeps going until every byte is queued, as a
// blocking send does, and the reader gets them all in order.
func TestSendRestQueuesAll(t *testing.T) {
	for _, domain := range []string{"inet", "unix"} {
		t.Run(domain, func(t *testing.T) {
			tab := newTable(t)
			c, s := pair(t, tab, domain)
			data := strings.Repeat("0123456789abcdef", 8<<20/16)
			done := slowReader(s, len(data))
			off, partial := 0, 0
			err := tab.Do(context.Background(), c, sock.Writable, time.Now().Add(30*time.Second), func() (err error) {
				before := off
				off, err = tab.SendRest(c, data, off)
				if err == unix.EAGAIN && off > before {
					partial++
				}
				return err
			})
			if err != nil || off != len(data) {
				t.Fatalf("SendRest: offset %d of %d, %v", off, len(data), err)
			}
			if partial == 0 {
				t.Error("no send was partial: the test did not fill the buffer")
			}
			if got := done(); string(got) != data {
				t.Errorf("the reader got %d bytes, not the %d sent in order", len(got), len(data))
			}
		})
	}
}

// TestSendRestFails: a send that fails after part of its data went says
// how much went.
func TestSendRestFails(t *testing.T) {
	noSIGPIPE(t)
	tab := newTable(t)
	c, s := pair(t, tab, "inet")
	data := strings.Repeat("x", 8<<20)
	off, err := tab.SendRest(c, data, 0)
	if err != unix.EAGAIN || off == 0 || off == len(data) {
		t.Fatalf("first SendRest: %d, %v; want part of the data and EAGAIN", off, err)
	}
	if err := tab.SetOpt(s, "linger", 0); err != nil {
		t.Fatal(err)
	}
	if err := tab.Close(s); err != nil { // a reset
		t.Fatal(err)
	}
	var end int
	err = tab.Do(context.Background(), c, sock.Writable, time.Now().Add(patience), func() (err error) {
		end, err = tab.SendRest(c, data, off)
		return err
	})
	code := "ECONNRESET" // or EPIPE, if the reset was reported to an earlier send
	if errors.Is(err, unix.EPIPE) {
		code = "EPIPE"
	}
	wantErr(t, err, code, fmt.Sprintf("(%d of %d bytes sent)", end, len(data)))
	var e *sock.Error
	if errors.As(err, &e) && (e.Sent != end || e.Total != len(data) || end < off) {
		t.Errorf("Sent %d Total %d; want %d (at least %d) and %d", e.Sent, e.Total, end, off, len(data))
	}
}

// TestConnectNow: a non-blocking connect gives the kernel's answers as C
// gets them: EINPROGRESS, then once the socket is writable nil from a
// second connect, EISCONN from a third; a refused one EINPROGRESS, then
// the refusal from SO_ERROR or from connect.
func TestConnectNow(t *testing.T) {
	tab := newTable(t)
	_, addr := listener(t, tab, "inet", "127.0.0.1:0", 8)
	c := socket(t, tab, "inet", "stream")
	err := tab.ConnectNow(c, addr)
	wantErr(t, err, "EINPROGRESS", fmt.Sprintf("connect %d %s: EINPROGRESS: operation now in progress", c, addr))
	if err := tab.Wait(t.Context(), c, sock.Writable, time.Now().Add(patience)); err != nil {
		t.Fatal(err)
	}
	if v, err := tab.GetOpt(c, "error"); v != 0 || err != nil {
		t.Errorf("getopt error: %d %v, want 0", v, err)
	}
	if err := tab.ConnectNow(c, addr); err != nil {
		t.Errorf("connect once writable: %v, want success", err)
	}
	wantErr(t, tab.ConnectNow(c, addr), "EISCONN")
	if in := info(t, tab, c); in.State != "connected" {
		t.Errorf("state %q, want connected", in.State)
	}

	refuser := socket(t, tab, "inet", "stream")
	gone := bind(t, tab, refuser, "127.0.0.1:0") // bound, not listening: RST
	for _, how := range []string{"getopt", "connect"} {
		r := socket(t, tab, "inet", "stream")
		wantErr(t, tab.ConnectNow(r, gone), "EINPROGRESS")
		if err := tab.Wait(t.Context(), r, sock.Writable, time.Now().Add(patience)); err != nil {
			t.Fatal(err)
		}
		if in := info(t, tab, r); in.State != "connecting" || in.TCPState != "CLOSE" {
			t.Errorf("refused, not yet told: %+v, want connecting and CLOSE", in)
		}
		if how == "getopt" {
			if v, err := tab.GetOpt(r, "error"); v != int(unix.ECONNREFUSED) || err != nil {
				t.Errorf("getopt error: %d %v, want %d", v, err, unix.ECONNREFUSED)
			}
			continue
		}
		wantErr(t, tab.ConnectNow(r, gone), "ECONNREFUSED")
		if in := info(t, tab, r); in.State == "connecting" {
			t.Errorf("after the refusal: %+v", in)
		}
	}
}

// TestConnectNowUnixBacklog: a non-blocking AF_UNIX connect to a full
// backlog is EAGAIN, as the kernel says, where a blocking one waits.
func TestConnectNowUnixBacklog(t *testing.T) {
	tab := newTable(t)
	l, addr := listener(t, tab, "unix", "@"+unique("backlog"), 0)
	var err error
	for range 8 {
		if err = tab.ConnectNow(socket(t, tab, "unix", "stream"), addr); err != nil {
			break
		}
	}
	wantErr(t, err, "EAGAIN")
	if in := info(t, tab, l); in.RecvQ == 0 || in.SendQ != 0 {
		t.Errorf("listener: %+v, want connections queued and backlog 0", in)
	}
}

// TestStateFollowsKernel: the API state follows what the kernel did on its
// own — a handshake completed after a connect that did not wait for it, a
// UDP socket bound by its first sendto.
func TestStateFollowsKernel(t *testing.T) {
	tab := newTable(t)
	_, addr := listener(t, tab, "inet", "127.0.0.1:0", 8)
	c := socket(t, tab, "inet", "stream")
	if err := tab.Connect(c, addr); err != unix.EINPROGRESS {
		t.Fatalf("connect: %v", err)
	}
	eventually(t, tab, c, "connected", func(in sock.Info) bool {
		return in.State == "connected" && in.TCPState == "ESTABLISHED" && in.Remote == addr
	})

	srv := socket(t, tab, "inet", "dgram")
	to := bind(t, tab, srv, "127.0.0.1:0")
	u := socket(t, tab, "inet", "dgram")
	if in := info(t, tab, u); in.State != "created" {
		t.Errorf("new UDP socket: %q", in.State)
	}
	if _, err := tab.SendTo(u, "hi", to); err != nil {
		t.Fatal(err)
	}
	if in := info(t, tab, u); in.State != "bound" || !strings.HasPrefix(in.Local, "0.0.0.0:") || in.Local == "0.0.0.0:0" {
		t.Errorf("after sendto (the kernel bound it): %+v", in)
	}
}

// TestUnixListenerQueue: an AF_UNIX listening socket shows the
// connections waiting to be accepted and its backlog, as a TCP one does
// (and as ss shows them), from sock_diag.
func TestUnixListenerQueue(t *testing.T) {
	tab := newTable(t)
	l, addr := listener(t, tab, "unix", filepath.Join(t.TempDir(), "l.sock"), 7)
	if in := info(t, tab, l); in.RecvQ != 0 || in.SendQ != 7 {
		t.Errorf("listening: RecvQ %d SendQ %d, want 0 and 7", in.RecvQ, in.SendQ)
	}
	for i := 1; i <= 3; i++ {
		dial(t, tab, "unix", addr)
		if in := info(t, tab, l); in.RecvQ != i || in.SendQ != 7 {
			t.Errorf("%d connected: RecvQ %d SendQ %d, want %d and 7", i, in.RecvQ, in.SendQ, i)
		}
	}
	accept(t, tab, l)
	if in := info(t, tab, l); in.RecvQ != 2 {
		t.Errorf("after an accept: RecvQ %d, want 2", in.RecvQ)
	}
}
