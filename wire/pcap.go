package wire

import (
	"bufio"
	"os"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// snapLen is the most of a frame a pcap record holds: all of any
// loopback frame (its MTU is 65536).
const snapLen = 65536 + 14

// Pcap writes frames to a pcap file (LINKTYPE_ETHERNET: loopback's frames
// carry a zero Ethernet header), which tcpdump -r reads. It is not safe
// for concurrent use.
type Pcap struct {
	f *os.File
	b *bufio.Writer
	w *pcapgo.Writer
}

// CreatePcap creates (or truncates) the file and writes its header.
func CreatePcap(name string) (*Pcap, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	b := bufio.NewWriter(f)
	w := pcapgo.NewWriterNanos(b)
	if err := w.WriteFileHeader(snapLen, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return nil, err
	}
	return &Pcap{f: f, b: b, w: w}, nil
}

// Write appends one frame.
func (p *Pcap) Write(fr Frame) error {
	return p.w.WritePacket(gopacket.CaptureInfo{Timestamp: fr.Time, CaptureLength: len(fr.Data), Length: fr.Len}, fr.Data)
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
