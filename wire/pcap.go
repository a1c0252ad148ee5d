package wire

import (
	"bufio"
	"encoding/binary"
	"os"
)

// snapLen is the most of a frame a pcap record holds: all of any
// loopback frame (its MTU is 65536).
const snapLen = 65536 + 14

// Pcap writes frames to a pcap file (nanosecond timestamps,
// LINKTYPE_ETHERNET: loopback's frames carry a zero Ethernet header),
// which tcpdump -r reads. The format is a 24-byte header and a 16-byte
// header before each frame. It is not safe for concurrent use.
type Pcap struct {
	f *os.File
	b *bufio.Writer
}

// CreatePcap creates (or truncates) the file and writes its header.
func CreatePcap(name string) (*Pcap, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	p := &Pcap{f: f, b: bufio.NewWriter(f)}
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b23c4d) // nanosecond pcap
	binary.LittleEndian.PutUint16(h[4:], 2)          // version 2.4
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], snapLen)
	binary.LittleEndian.PutUint32(h[20:], 1) // LINKTYPE_ETHERNET
	p.b.Write(h[:])
	if err := p.b.Flush(); err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

// Write appends one frame.
func (p *Pcap) Write(fr Frame) error {
	data := fr.Data[:min(len(fr.Data), snapLen)]
	var h [16]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(fr.Time.Unix()))
	binary.LittleEndian.PutUint32(h[4:], uint32(fr.Time.Nanosecond()))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[12:], uint32(max(fr.Len, len(data))))
	p.b.Write(h[:])
	_, err := p.b.Write(data)
	return err
}

// Flush writes what is buffered to the file, so that a reader sees every
// packet written so far.
func (p *Pcap) Flush() error { return p.b.Flush() }

// Close flushes and closes the file.
func (p *Pcap) Close() error {
	err := p.b.Flush()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	return err
}
