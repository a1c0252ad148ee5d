package lab

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The hosts' addresses, from 198.18.0.0/15, the range set aside for
// network test labs (RFC 2544).
var (
	AddrA = netip.AddrFrom4([4]byte{198, 18, 0, 1})
	AddrB = netip.AddrFrom4([4]byte{198, 18, 0, 2})
)

// maxHeld bounds the packets a direction holds at once, delayed or
// queued: a flood cannot grow memory without end. Past it, as past a
// direction's Queue, packets are dropped the way a router's full queue
// drops them, and counted. A variable for the tests.
var maxHeld = 8192

// maxEvents bounds the events kept for a watcher that has not taken them.
const maxEvents = 4096

// Fate is what the link did to a packet.
type Fate int

const (
	Delivered Fate = iota
	Lost           // lost by the chance of loss
	Dropped        // dropped by Drop
	QueueFull      // dropped: the queue was full
)

// Event is one packet the link carried, as it entered the link.
type Event struct {
	Time      time.Time
	Dir       Dir
	Packet    []byte // the IP packet
	Fate      Fate
	Delay     time.Duration // until it is delivered (Delivered)
	Dup       bool          // delivered twice
	Reordered bool          // held back ReorderGap longer
}

// What says in a few words what the link did: "lost", "dropped",
// "queue full", or the delay, then "dup" and "reordered".
func (e Event) What() string {
	switch e.Fate {
	case Lost:
		return "lost"
	case Dropped:
		return "dropped"
	case QueueFull:
		return "queue full"
	}
	s := fmt.Sprintf("delay %.1fms", float64(e.Delay)/float64(time.Millisecond))
	if e.Dup {
		s += " dup"
	}
	if e.Reordered {
		s += " reordered"
	}
	return s
}

// Stats counts what one direction did.
type Stats struct {
	Packets, Bytes                  int64 // packets that entered the direction
	Delivered                       int64 // copies written to the other end, duplicates too
	Lost, Dropped, QueueFull        int64
	Duplicated, Reordered, WriteErr int64
}

// Link is the lab: hosts a and b, each a network namespace of its own,
// and the link between them, carried by this process. Its methods are
// safe for concurrent use.
type Link struct {
	hosts [2]*NS
	tuns  [2]*os.File
	dirs  [2]*direction
	quit  chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex
	watching bool
	events   []Event
	missed   int64 // events a full buffer did not keep
	notify   int   // an eventfd, written when events wait
	notified bool
}

// direction is one way of the link: its parameters, the packets it
// holds until they are due, and its counters.
type direction struct {
	l        *Link
	d        Dir
	from, to *os.File
	kick     chan struct{}

	mu      sync.Mutex
	p       Params
	rng     *rand.Rand
	seed    uint64
	held    packetHeap
	order   uint64
	backlog []time.Time // when each packet queued for Rate has been sent, oldest first
	txEnd   time.Time   // when the last of them has
	drop    int         // the data packets to drop next
	stats   Stats
}

// New builds the lab: two namespaces, a TUN device in each with its
// host's address, and the goroutines that carry the packets between
// them as cfg says. place moves the descriptors the lab keeps as NewNS's
// does. It fails with ErrPermission without CAP_SYS_ADMIN.
func New(cfg Config, place func(int) int) (*Link, error) {
	l := &Link{quit: make(chan struct{}), notify: -1}
	fail := func(err error) (*Link, error) { l.close(); return nil, err }
	for i, addrs := range [2][2]netip.Addr{{AddrA, AddrB}, {AddrB, AddrA}} {
		ns, err := NewNS(place)
		if err != nil {
			return fail(err)
		}
		l.hosts[i] = ns
		if l.tuns[i], err = openTUN(ns, addrs[0], addrs[1], place); err != nil {
			return fail(err)
		}
	}
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fail(err)
	}
	if place != nil {
		fd = place(fd)
	}
	l.notify = fd
	for _, d := range []Dir{A2B, B2A} {
		l.dirs[d] = &direction{l: l, d: d, from: l.tuns[d], to: l.tuns[1-d], kick: make(chan struct{}, 1)}
	}
	l.Set(cfg)
	for _, d := range l.dirs {
		l.wg.Add(2)
		go d.read()
		go d.write()
	}
	return l, nil
}

// Host is host a's (0) or b's (1) namespace.
func (l *Link) Host(i int) *NS { return l.hosts[i] }

// Set changes what the link does from now on. Packets it holds keep the
// times they were given. A seed other than the last starts the choices
// again; without one they are random.
func (l *Link) Set(cfg Config) {
	for _, d := range l.dirs {
		d.mu.Lock()
		d.p = cfg.Dirs[d.d]
		if d.rng == nil || cfg.HasSeed && cfg.Seed != d.seed {
			d.seed = cfg.Seed
			if !cfg.HasSeed {
				d.seed = rand.Uint64()
			}
			d.rng = rand.New(rand.NewPCG(d.seed, uint64(d.d)))
		}
		d.mu.Unlock()
	}
}

// Drop makes direction d drop its next n packets that carry data (a TCP
// segment with a payload, a UDP datagram); 0 cancels.
func (l *Link) Drop(d Dir, n int) {
	l.dirs[d].mu.Lock()
	l.dirs[d].drop = n
	l.dirs[d].mu.Unlock()
}

// Stats returns direction d's counters.
func (l *Link) Stats(d Dir) Stats {
	l.dirs[d].mu.Lock()
	defer l.dirs[d].mu.Unlock()
	return l.dirs[d].stats
}

// Watch starts or stops keeping an Event for each packet.
func (l *Link) Watch(on bool) {
	l.mu.Lock()
	l.watching = on
	if !on {
		l.events = nil
	}
	l.mu.Unlock()
}

// NotifyFD is an eventfd that is readable while events wait to be taken.
func (l *Link) NotifyFD() int { return l.notify }

// Events takes the events kept since the last call, in the order the
// packets entered the link, and how many a full buffer did not keep.
func (l *Link) Events() ([]Event, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	evs, missed := l.events, l.missed
	l.events, l.missed = nil, 0
	if l.notified {
		var b [8]byte
		unix.Read(l.notify, b[:])
		l.notified = false
	}
	return evs, missed
}

func (l *Link) event(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.watching {
		return
	}
	if len(l.events) == maxEvents {
		l.missed++
		return
	}
	e.Packet = append([]byte(nil), e.Packet...)
	l.events = append(l.events, e)
	if !l.notified {
		unix.Write(l.notify, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		l.notified = true
	}
}

// Close stops the link and closes the devices and namespaces: nothing of
// the lab is left.
func (l *Link) Close() { l.close() }

func (l *Link) close() {
	select {
	case <-l.quit:
		return
	default:
	}
	close(l.quit)
	for _, f := range l.tuns {
		if f != nil {
			f.Close() // the readers' Read returns
		}
	}
	l.wg.Wait()
	for _, ns := range l.hosts {
		if ns != nil {
			ns.Close()
		}
	}
	if l.notify >= 0 {
		unix.Close(l.notify)
	}
}

// read takes the packets host d sends into the link.
func (d *direction) read() {
	defer d.l.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := d.from.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			select {
			case <-d.l.quit:
				return
			default:
				continue
			}
		}
		d.arrive(append([]byte(nil), buf[:n]...), time.Now())
	}
}

// arrive decides a packet's fate and, unless it is lost, when it is due
// at the other end.
func (d *direction) arrive(pkt []byte, now time.Time) {
	d.mu.Lock()
	e := Event{Time: now, Dir: d.d, Packet: pkt}
	p := &d.p
	d.stats.Packets++
	d.stats.Bytes += int64(len(pkt))
	for len(d.backlog) > 0 && !d.backlog[0].After(now) {
		d.backlog = d.backlog[1:]
	}
	switch {
	case d.drop > 0 && carriesData(pkt):
		d.drop--
		e.Fate = Dropped
		d.stats.Dropped++
	case p.Loss > 0 && d.rng.Float64() < p.Loss:
		e.Fate = Lost
		d.stats.Lost++
	case len(d.held) >= maxHeld || p.Rate > 0 && len(d.backlog) >= p.Queue:
		e.Fate = QueueFull
		d.stats.QueueFull++
	default:
		sent := now
		if p.Rate > 0 {
			start := now
			if d.txEnd.After(now) {
				start = d.txEnd
			}
			d.txEnd = start.Add(time.Duration(float64(len(pkt)*8) / p.Rate * float64(time.Second)))
			d.backlog = append(d.backlog, d.txEnd)
			sent = d.txEnd
		}
		delay := p.Delay
		if p.Jitter > 0 {
			delay += time.Duration((d.rng.Float64()*2 - 1) * float64(p.Jitter))
			delay = max(delay, 0)
		}
		if p.Reorder > 0 && d.rng.Float64() < p.Reorder {
			delay += ReorderGap
			e.Reordered = true
			d.stats.Reordered++
		}
		due := sent.Add(delay)
		e.Delay = due.Sub(now)
		d.hold(due, pkt)
		if p.Dup > 0 && d.rng.Float64() < p.Dup {
			e.Dup = true
			d.stats.Duplicated++
			d.hold(due, pkt)
		}
	}
	d.mu.Unlock()
	if e.Fate == Delivered {
		select {
		case d.kick <- struct{}{}:
		default:
		}
	}
	d.l.event(e)
}

func (d *direction) hold(due time.Time, pkt []byte) {
	d.order++
	heap.Push(&d.held, &heldPacket{due: due, order: d.order, data: pkt})
}

// write delivers the packets at the other end when they are due.
func (d *direction) write() {
	defer d.l.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due [][]byte
	for {
		now := time.Now()
		wait := time.Duration(-1)
		d.mu.Lock()
		for len(d.held) > 0 && !d.held[0].due.After(now) {
			due = append(due, heap.Pop(&d.held).(*heldPacket).data)
		}
		if len(d.held) > 0 {
			wait = d.held[0].due.Sub(now)
		}
		d.mu.Unlock()
		for i, pkt := range due {
			_, err := d.to.Write(pkt)
			d.mu.Lock()
			if err != nil {
				d.stats.WriteErr++
			} else {
				d.stats.Delivered++
			}
			d.mu.Unlock()
			due[i] = nil
		}
		due = due[:0]
		if wait >= 0 {
			timer.Reset(wait)
		} else {
			timer.Stop()
		}
		select {
		case <-d.kick:
		case <-timer.C:
		case <-d.l.quit:
			return
		}
	}
}

// carriesData reports whether an IP packet is a TCP segment with a
// payload or a UDP datagram.
func carriesData(pkt []byte) bool {
	proto, l4, ok := transport(pkt)
	switch {
	case !ok:
		return false
	case proto == unix.IPPROTO_UDP:
		return true
	case proto == unix.IPPROTO_TCP && len(l4) >= 20:
		return len(l4) > int(l4[12]>>4)*4
	}
	return false
}

// transport finds an IPv4 or IPv6 packet's transport header.
func transport(pkt []byte) (proto byte, l4 []byte, ok bool) {
	if len(pkt) < 1 {
		return 0, nil, false
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return 0, nil, false
		}
		ihl := int(pkt[0]&0xf) * 4
		total := int(pkt[2])<<8 | int(pkt[3])
		if ihl < 20 || total < ihl || total > len(pkt) {
			return 0, nil, false
		}
		return pkt[9], pkt[ihl:total], true
	case 6:
		if len(pkt) < 40 {
			return 0, nil, false
		}
		return pkt[6], pkt[40:], true
	}
	return 0, nil, false
}

type heldPacket struct {
	due   time.Time
	order uint64 // packets due at once go in the order they came
	data  []byte
}

// packetHeap is the held packets, the one due first on top.
type packetHeap []*heldPacket

func (h packetHeap) Len() int { return len(h) }
func (h packetHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].order < h[j].order
	}
	return h[i].due.Before(h[j].due)
}
func (h packetHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *packetHeap) Push(x any)   { *h = append(*h, x.(*heldPacket)) }
func (h *packetHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}
