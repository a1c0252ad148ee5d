// Package dnstest is a DNS server on loopback for tests: it counts the
// queries it gets and answers them from a table of names, or never answers
// at all, so that a test can watch what a resolver sends without any packet
// leaving the machine.
package dnstest

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a UDP DNS server on 127.0.0.1. It is safe for concurrent use.
type Server struct {
	// Addr is where it listens ("127.0.0.1:PORT").
	Addr string

	conn    net.PacketConn
	answers map[string]netip.Addr // nil: a silent server
	mu      sync.Mutex
	queries []string
	// dialed counts the resolvers' connections not yet closed: the
	// test's end waits for them, so that a lookup a test gave up on does
	// not close its sockets while the next test counts descriptors.
	dialed sync.WaitGroup
}

// Start starts a server that answers A queries for the names in answers
// (lower case, no trailing dot) with their IPv4 addresses, and every other
// query with an empty answer. With answers nil it reads queries and never
// answers. It stops when the test ends.
func Start(t testing.TB, answers map[string]netip.Addr) *Server {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: conn.LocalAddr().String(), conn: conn, answers: answers}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.serve()
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
		closed := make(chan struct{})
		go func() { s.dialed.Wait(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Error("dnstest: a resolver's connection was still open 10s after the test")
		}
	})
	return s
}

// Queries returns the names asked so far, one per query, in order.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

// Resolver returns a resolver that sends every query to s. A query whose
// context ends stops waiting for its answer at once (Go's own resolver
// would wait out its read deadline).
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		if strings.HasPrefix(network, "tcp") {
			network = "tcp4"
		} else {
			network = "udp4"
		}
		c, err := d.DialContext(ctx, network, s.Addr)
		if err != nil {
			return nil, err
		}
		s.dialed.Add(1)
		tc := &trackedConn{Conn: c, done: s.dialed.Done}
		context.AfterFunc(ctx, func() { tc.Close() })
		if pc, ok := c.(net.PacketConn); ok {
			// Go's resolver frames a query by whether its connection is
			// a PacketConn.
			return &trackedPacketConn{tc, pc}, nil
		}
		return tc, nil
	}}
}

// trackedConn is a resolver's connection that tells the server when it is
// closed, once.
type trackedConn struct {
	net.Conn
	once sync.Once
	done func()
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.done)
	return err
}

// trackedPacketConn is a trackedConn over UDP.
type trackedPacketConn struct {
	*trackedConn
	pc net.PacketConn
}

func (c *trackedPacketConn) ReadFrom(b []byte) (int, net.Addr, error)  { return c.pc.ReadFrom(b) }
func (c *trackedPacketConn) WriteTo(b []byte, a net.Addr) (int, error) { return c.pc.WriteTo(b, a) }

func (s *Server) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		name, qtype, end, ok := question(buf[:n])
		if !ok {
			continue
		}
		s.mu.Lock()
		s.queries = append(s.queries, name)
		s.mu.Unlock()
		if s.answers != nil {
			s.conn.WriteTo(Answer(buf[:end], qtype, s.answers[name]), from)
		}
	}
}

// question reads the name and type of a query's one question, and where
// the question ends.
func question(q []byte) (name string, qtype uint16, end int, ok bool) {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return "", 0, 0, false
	}
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if l > 63 || i+1+l > len(q) {
			return "", 0, 0, false
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return "", 0, 0, false
	}
	return strings.ToLower(strings.Join(labels, ".")), binary.BigEndian.Uint16(q[i+1:]), i + 5, true
}

// Answer makes the response to a query (its header and question, q): ip as
// its one A record when the query asks for A and ip is valid, else no
// records.
func Answer(q []byte, qtype uint16, ip netip.Addr) []byte {
	r := append([]byte(nil), q...)
	r[2], r[3] = 0x81, 0x80 // a response; recursion desired and available; no error
	binary.BigEndian.PutUint16(r[6:], 0)
	binary.BigEndian.PutUint16(r[8:], 0)
	binary.BigEndian.PutUint16(r[10:], 0) // the query's EDNS record is not echoed
	if qtype == 1 && ip.Is4() {
		binary.BigEndian.PutUint16(r[6:], 1)
		a := ip.As4()
		r = append(r, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		r = append(r, a[:]...)
	}
	return r
}
