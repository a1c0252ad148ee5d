package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// largeSink is the large sink's read size: the sink never limits either
// sender. socat's default, 8 KiB, makes the sink slower than the sender,
// which then waits on a full socket buffer at every send.
const largeSink = 256 << 10

// bulkCase is one row pair of the bulk benchmark: a socket family and the
// sink's read size (0: socat's default).
type bulkCase struct {
	family string // "tcp" or "unix"
	sink   int
}

func (b bulkCase) String() string {
	sink := "8 KiB (default)"
	if b.sink > 0 {
		sink = fmt.Sprintf("%d KiB", b.sink>>10)
	}
	return fmt.Sprintf("%s, sink %s", strings.ToUpper(b.family), sink)
}

var bulkCases = []bulkCase{{"tcp", 0}, {"tcp", largeSink}, {"unix", 0}, {"unix", largeSink}}

func (s *suite) bulk() *section {
	total, chunk := s.size.bulkBytes, s.size.bulkChunk
	sec := &section{
		title: fmt.Sprintf("2. bulk: %s sent over a loopback TCP or AF_UNIX stream in %d KiB sends to a socat sink", size(total), chunk>>10),
		notes: []string{
			"sink: socat -u [-b 262144] TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr|UNIX-LISTEN:PATH OPEN:/dev/null (one per run; without -b socat reads 8 KiB at a time)",
			fmt.Sprintf("socat sender: socat -u -b %d OPEN:/dev/zero,readbytes=%d TCP:127.0.0.1:PORT|UNIX-CONNECT:PATH (a read of /dev/zero and a write per chunk)", chunk, total),
			"sockshell sender: bench/lua/bulk.lua, a loop of send() of one preallocated string, finishing partial sends",
			"wall: from starting the sender to the sink's exit after the last byte (start-up included); send loop: sockshell's own timing; CPU: the sender's",
		},
		header: []string{"case", "contender", "wall", "throughput", "wall fastest .. slowest", "send loop", "CPU user + sys", "vs socat"},
	}
	if skip := s.whyNot("socat"); skip != "" {
		sec.skipped = skip
		return sec
	}
	for _, bc := range bulkCases {
		shell := &contender{name: "sockshell", skip: s.whyNoShell()}
		shell.run = s.bulkRun(bc, func(e bulkEnd) []string {
			return []string{s.sockshell, s.file("lua/bulk.lua"), e.addr, strconv.FormatInt(total, 10), strconv.Itoa(chunk)}
		})
		socat := &contender{name: "socat"}
		socat.run = s.bulkRun(bc, func(e bulkEnd) []string {
			return []string{s.tools["socat"], "-u", "-b", strconv.Itoa(chunk),
				"OPEN:/dev/zero,readbytes=" + strconv.FormatInt(total, 10), e.connect}
		})
		cs := []*contender{shell, socat}
		s.logf("bulk, %s: %s x %d runs", bc, size(total), s.runs)
		s.alternate("bulk "+bc.String(), s.runs, cs)
		s.bulkRows(sec, bc.String(), total, cs, socat)
		sec.ratioTarget(bc.String()+": sockshell/socat wall time <= 0.95", shell, socat, (*contender).wall, 0.95, false)
	}
	return sec
}

// bulkRows adds a row per contender of one case, against base.
func (s *suite) bulkRows(sec *section, what string, total int64, cs []*contender, base *contender) {
	for _, c := range cs {
		if !c.ok() {
			sec.add(what, c.name, c.status())
			continue
		}
		vs := "-"
		if base.ok() {
			vs = fmt.Sprintf("%.2fx", c.wall()/base.wall())
		}
		sec.add(what, c.name, secs(c.wall()), fmt.Sprintf("%.0f MiB/s", float64(total)/(1<<20)/c.wall()),
			spread(c.values(func(o outcome) float64 { return o.wall.Seconds() })), secs(c.loop()), c.cpu(), vs)
	}
}

// bulkEnd is where one run's sink listens.
type bulkEnd struct {
	listen  string // socat's address for the sink
	connect string // socat's address for a sender
	addr    string // the address bulk.lua connects to
	ready   func(sink *proc) error
}

var bulkSocks int

// bulkEndpoint makes a fresh address of family for one run.
func (s *suite) bulkEndpoint(family string) (bulkEnd, error) {
	if family == "unix" {
		bulkSocks++
		path := filepath.Join(s.work, fmt.Sprintf("bulk%d.sock", bulkSocks))
		return bulkEnd{listen: "UNIX-LISTEN:" + path, connect: "UNIX-CONNECT:" + path, addr: path,
			ready: func(sink *proc) error { return waitUnixListening(sink, path, 10*time.Second) }}, nil
	}
	port, err := freePort()
	if err != nil {
		return bulkEnd{}, err
	}
	return bulkEnd{listen: fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr", port), connect: fmt.Sprintf("TCP:127.0.0.1:%d", port),
		addr:  fmt.Sprintf("127.0.0.1:%d", port),
		ready: func(sink *proc) error { return waitListening(sink, port, 10*time.Second) }}, nil
}

// bulkRun returns one run of a bulk sender: it starts a socat sink of the
// case's family and read size, runs the sender made by argv against it,
// and times the transfer up to the sink's exit.
func (s *suite) bulkRun(bc bulkCase, argv func(bulkEnd) []string) func() (outcome, error) {
	return func() (outcome, error) {
		e, err := s.bulkEndpoint(bc.family)
		if err != nil {
			return outcome{}, err
		}
		sinkArgv := []string{s.tools["socat"], "-u"}
		if bc.sink > 0 {
			sinkArgv = append(sinkArgv, "-b", strconv.Itoa(bc.sink))
		}
		return s.timeToSink(append(sinkArgv, e.listen, "OPEN:/dev/null"), e.ready, argv(e))
	}
}

// timeToSink starts the sink sinkArgv, waits until ready says it listens,
// runs the sender argv and times the transfer up to the sink's exit.
func (s *suite) timeToSink(sinkArgv []string, ready func(*proc) error, argv []string) (outcome, error) {
	sink, err := start(s.size.timeout, true, sinkArgv...)
	if err != nil {
		return outcome{}, err
	}
	defer sink.stop()
	if err := ready(sink); err != nil {
		return outcome{}, err
	}
	t0 := time.Now()
	o, err := runProg(s.size.timeout, argv...)
	if err != nil {
		return o, err
	}
	if _, err := sink.wait(); err != nil {
		return o, fmt.Errorf("sink: %v", err)
	}
	o.wall = sink.end.Sub(t0)
	return o, nil
}

// waitUnixListening waits until a socket listens at path, reading the
// kernel's table (a probe connection would use up the one-connection sink).
func waitUnixListening(p *proc, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		data, err := os.ReadFile("/proc/net/unix")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			// Num RefCount Protocol Flags Type St Inode Path; flag
			// 0x10000 is a listening socket's.
			if f := strings.Fields(line); len(f) == 8 && f[7] == path && f[3] == "00010000" {
				return nil
			}
		}
		if err := exitedEarly(p, path, deadline, timeout); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
