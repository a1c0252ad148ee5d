package sock_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// The framing helpers are bounded against any peer: a unit may take at
// most a limit of bytes, a flood is read a turn at a time, a delimiter is
// searched for once per byte, and a datagram is never cut.

// goPeer accepts one connection on a listener of the table and returns the
// table's end and the Go end, closed when the test ends.
func goPeer(t *testing.T, tab *sock.Table) (int, net.Conn) {
	t.Helper()
	l, addr := listener(t, tab, "inet", "127.0.0.1:0", 1)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fd, _ := accept(t, tab, l)
	if err := tab.Close(l); err != nil {
		t.Fatal(err)
	}
	return fd, conn
}

// flood writes n bytes of filler (no newline) to conn as fast as it can,
// then tail, in a goroutine that ends when the test does.
func flood(t *testing.T, conn net.Conn, n int, tail string) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for n > 0 {
			k, err := conn.Write(chunk[:min(n, len(chunk))])
			if err != nil {
				return
			}
			n -= k
		}
		conn.Write([]byte(tail))
	}()
	t.Cleanup(func() { conn.Close(); wg.Wait() })
}

func TestRecvUntilLimit(t *testing.T) {
	tab := newTable(t)
	a, b := pair(t, tab, "unix")
	send(t, tab, a, "0123456789abc\n")
	eventually(t, tab, b, "14 bytes queued", func(in sock.Info) bool { return in.RecvQ == 14 })
	for range 2 { // the bytes stay: asking again gives the same answer
		_, err := tab.RecvUntil(b, "\n", 10)
		wantErr(t, err, "EMSGSIZE", fmt.Sprintf(`recvuntil %d: EMSGSIZE: no "\n" in the first 10 bytes (limit: the call's LIMIT); they stay buffered`, b))
		if in := info(t, tab, b); in.Buffered != 10 || in.RecvQ != 4 {
			t.Errorf("after EMSGSIZE: %d buffered, %d queued; want the first 10 bytes buffered and the rest queued", in.Buffered, in.RecvQ)
		}
	}
	tab.MaxRecv = 13
	_, err := tab.RecvUntil(b, "\n", 0)
	wantErr(t, err, "EMSGSIZE", `in the first 13 bytes (limit: maxrecv)`)
	// A delimiter ending exactly at the limit fits.
	if got, err := tab.RecvUntil(b, "\n", 14); err != nil || string(got) != "0123456789abc\n" {
		t.Errorf("recvuntil with room: %q %v", got, err)
	}
}

func TestRecvNLimit(t *testing.T) {
	tab := newTable(t)
	a, b := pair(t, tab, "unix")
	send(t, tab, a, "abc")
	_, err := tab.RecvN(b, 1<<40, 0)
	wantErr(t, err, "EMSGSIZE", fmt.Sprintf("recvn %d: EMSGSIZE: 1099511627776 bytes asked for, more than %d (limit: maxrecv)", b, sock.DefaultMaxRecv))
	if in := info(t, tab, b); in.Buffered != 0 || in.Received != 0 {
		t.Errorf("a refused recvn read something: %+v", in)
	}
	if got, err := tab.RecvN(b, 3, 3); err != nil || string(got) != "abc" {
		t.Errorf("recvn of exactly the limit: %q %v", got, err)
	}
}

// TestFloodTakesTurns: a peer that never lets the kernel run dry gets a
// helper's attention a turn at a time (ErrMore), and nothing is lost.
func TestFloodTakesTurns(t *testing.T) {
	tab := newTable(t)
	fd, conn := goPeer(t, tab)
	const size = 64 << 20
	flood(t, conn, size, "\n")
	turns := 0
	var line []byte
	err := tab.Do(context.Background(), fd, sock.Readable, time.Now().Add(patience), func() (err error) {
		line, err = tab.RecvUntil(fd, "\n", size+1)
		if err == sock.ErrMore {
			turns++
		}
		return err
	})
	if err != nil || len(line) != size+1 {
		t.Fatalf("recvuntil: %d bytes, %v; want %d", len(line), err, size+1)
	}
	if turns < size/(1<<20) {
		t.Errorf("%d turns for %d bytes: a turn reads too much", turns, size)
	}
}

// TestRecvUntilLinear: the time a line takes grows with its length, not
// with its square (each read rescanning the buffer); twice the line, about
// twice the time. The time is the reading thread's CPU time, which the
// machine's other work hardly changes, and the whole line is queued in the
// kernel before the helper starts (an AF_UNIX stream whose writer may queue
// that much: SO_SNDBUFFORCE, for root), so that the work does not depend
// on how the writer and the reader happen to take turns.
func TestRecvUntilLinear(t *testing.T) {
	dir := t.TempDir()
	timeLine := func(size int) time.Duration {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var times []time.Duration
		for range 5 {
			tab := sock.NewTable()
			l, addr := listener(t, tab, "unix", filepath.Join(dir, "l"), 1)
			conn, err := net.Dial("unix", addr)
			if err != nil {
				t.Fatal(err)
			}
			fd, _ := accept(t, tab, l)
			tab.Close(l)
			os.Remove(addr)
			line := append(bytes.Repeat([]byte("x"), size), '\n')
			queued := false
			if raw, err := conn.(*net.UnixConn).SyscallConn(); err == nil {
				raw.Control(func(c uintptr) {
					queued = unix.SetsockoptInt(int(c), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8*size) == nil
				})
			}
			if queued {
				if _, err := conn.Write(line); err != nil {
					t.Fatal(err)
				}
			} else { // not root: the writer and the reader race
				go conn.Write(line)
			}
			start := threadCPU(t)
			err = tab.Do(context.Background(), fd, sock.Readable, time.Now().Add(patience), func() error {
				_, err := tab.RecvUntil(fd, "\n", 64<<20)
				return err
			})
			times = append(times, threadCPU(t)-start)
			conn.Close()
			tab.CloseAll()
			if err != nil {
				t.Fatalf("recvuntil: %v", err)
			}
		}
		slices.Sort(times)
		return times[len(times)/2]
	}
	small, large := timeLine(16<<20), timeLine(32<<20)
	ratio := float64(large) / float64(small)
	t.Logf("16 MiB line: %v, 32 MiB: %v of CPU (medians of 5), ratio %.2f", small, large, ratio)
	if ratio > 3 {
		t.Errorf("a line twice as long took %.1f times as long (%v, %v): want about 2", ratio, small, large)
	}
}

// threadCPU returns the CPU time the calling thread has used.
func threadCPU(t *testing.T) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestDatagramWhole: a framing helper on a datagram socket takes each
// datagram whole, however big, and refuses one past the limit without
// losing it.
func TestDatagramWhole(t *testing.T) {
	dir := t.TempDir()
	tab := newTable(t)
	a, b := socket(t, tab, "unix", "dgram"), socket(t, tab, "unix", "dgram")
	bind(t, tab, a, filepath.Join(dir, "a"))
	addrB := bind(t, tab, b, filepath.Join(dir, "b"))
	if err := tab.SetOpt(a, "sndbuf", 1<<20); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("0123456789abcdef", 100<<10/16) // 100 KiB
	sendto := func(data string) {
		t.Helper()
		if n, err := tab.SendTo(a, data, addrB); err != nil || n != len(data) {
			t.Fatalf("sendto: %d %v", n, err)
		}
	}
	unit := func(f func() ([]byte, error)) string {
		t.Helper()
		got, err := recvUnit(tab, b, time.Now().Add(patience), f)
		if err != nil {
			t.Fatalf("%v", err)
		}
		return got
	}

	sendto(big)
	if got := unit(func() ([]byte, error) { return tab.RecvN(b, len(big), 0) }); got != big {
		t.Errorf("recvn of a 100 KiB datagram: %d bytes", len(got))
	}
	frame, _ := sock.Frame(a, "", big)
	sendto(string(frame))
	if got := unit(func() ([]byte, error) { return tab.RecvFrame(b, "", 0) }); got != big {
		t.Errorf("recvframe of a 100 KiB datagram: %d bytes", len(got))
	}
	sendto(big + "\nnext")
	if got := unit(func() ([]byte, error) { return tab.RecvUntil(b, "\n", 0) }); got != big+"\n" {
		t.Errorf("recvuntil in a 100 KiB datagram: %d bytes", len(got))
	}
	if got := recv(t, tab, b, 100); got != "next" {
		t.Errorf("the rest of the datagram: %q", got)
	}

	// Past the limit: refused, and still queued whole.
	sendto(big)
	_, err := recvUnit(tab, b, time.Now().Add(patience), func() ([]byte, error) { return tab.RecvN(b, 10, 1000) })
	wantErr(t, err, "EMSGSIZE", fmt.Sprintf("the next datagram has %d bytes", len(big)), "it stays queued")
	if got := recv(t, tab, b, 1<<20); got != big {
		t.Errorf("recv of the refused datagram: %d bytes, want %d", len(got), len(big))
	}

	// recvfrom with a short MAX cuts the datagram, as the kernel does, and
	// says how long it was.
	sendto(big)
	eventually(t, tab, b, "the datagram queued", func(in sock.Info) bool { return in.RecvQ > 0 })
	got, _, size, err := tab.RecvDatagram(b, 10)
	if err != nil || string(got) != big[:10] || size != len(big) {
		t.Errorf("RecvDatagram(10): %q, whole length %d, %v; want %q and %d", got, size, err, big[:10], len(big))
	}
}
