// Package testpeer has the hostile peers sockshell's tests talk to over
// loopback. It is for tests only; its peers stop when the test ends.
package testpeer

import (
	"bytes"
	"net"
	"sync"
	"testing"
)

// Flooder listens on loopback and writes size bytes without a newline (or
// without end, for size < 0) as fast as it can to whoever connects. It
// returns the address; the peer stops when the test ends.
func Flooder(t testing.TB, size int64) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	stop := make(chan struct{})
	go func() {
		defer wg.Done()
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go func() { <-stop; conn.Close() }()
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for n := size; n != 0; {
			k := int64(len(chunk))
			if n > 0 {
				k = min(k, n)
			}
			w, err := conn.Write(chunk[:k])
			if err != nil {
				return
			}
			if n > 0 {
				n -= int64(w)
			}
		}
	}()
	t.Cleanup(func() { l.Close(); close(stop); wg.Wait() })
	return l.Addr().String()
}
