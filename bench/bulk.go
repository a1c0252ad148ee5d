package main

import (
	"fmt"
	"strconv"
	"time"
)

// sinkBuffer is the socat sink's read size: large, so the sink never limits
// either sender (socat's default is 8 KiB).
const sinkBuffer = 256 << 10

func (s *suite) bulk() *section {
	total, chunk := s.size.bulkBytes, s.size.bulkChunk
	sec := &section{
		title: fmt.Sprintf("2. bulk: %s sent over loopback TCP in %d KiB sends to a socat sink", size(total), chunk>>10),
		notes: []string{
			fmt.Sprintf("sink: socat -u -b %d TCP-LISTEN:PORT,reuseaddr STDOUT >/dev/null (one per run)", sinkBuffer),
			fmt.Sprintf("socat sender: socat -u -b %d OPEN:/dev/zero,readbytes=%d TCP:127.0.0.1:PORT (a read of /dev/zero and a write per chunk)", chunk, total),
			"sockshell sender: bench/lua/bulk.lua, a loop of send() of one preallocated string, finishing partial sends",
			"wall: from starting the sender to the sink's exit after the last byte (start-up included); send loop: sockshell's own timing",
		},
		header: []string{"contender", "wall", "throughput", "wall fastest .. slowest", "send loop", "CPU user + sys", "vs socat"},
	}
	if skip := s.whyNot("socat"); skip != "" {
		sec.skipped = skip
		return sec
	}
	shell := &contender{name: "sockshell", skip: s.whyNoShell()}
	shell.run = s.bulkRun(func(addr string) []string {
		return []string{s.sockshell, s.file("lua/bulk.lua"), addr, strconv.FormatInt(total, 10), strconv.Itoa(chunk)}
	})
	socat := &contender{name: "socat"}
	socat.run = s.bulkRun(func(addr string) []string {
		return []string{s.tools["socat"], "-u", "-b", strconv.Itoa(chunk),
			"OPEN:/dev/zero,readbytes=" + strconv.FormatInt(total, 10), "TCP:" + addr}
	})
	cs := []*contender{shell, socat}
	s.logf("bulk: %s x %d runs", size(total), s.runs)
	s.alternate("bulk", s.runs, cs)

	for _, c := range cs {
		if !c.ok() {
			sec.add(c.name, c.status())
			continue
		}
		vs := "-"
		if socat.ok() {
			vs = fmt.Sprintf("%.2fx", c.wall()/socat.wall())
		}
		sec.add(c.name, secs(c.wall()), fmt.Sprintf("%.0f MiB/s", float64(total)/(1<<20)/c.wall()),
			spread(c.values(func(o outcome) float64 { return o.wall.Seconds() })), secs(c.loop()), c.cpu(), vs)
	}
	sec.ratioTarget("sockshell/socat wall time <= 1.0", shell, socat, (*contender).wall, 1.0, false)
	return sec
}

// bulkRun returns one run of a bulk sender: it starts a socat sink on a free
// port, runs the sender made by argv against it, and times the transfer up to
// the sink's exit.
func (s *suite) bulkRun(argv func(addr string) []string) func() (outcome, error) {
	return func() (outcome, error) {
		port, err := freePort()
		if err != nil {
			return outcome{}, err
		}
		sink, err := start(s.size.timeout, true, s.tools["socat"], "-u", "-b", strconv.Itoa(sinkBuffer),
			fmt.Sprintf("TCP-LISTEN:%d,reuseaddr", port), "STDOUT")
		if err != nil {
			return outcome{}, err
		}
		defer sink.stop()
		if err := waitListening(sink, port, 10*time.Second); err != nil {
			return outcome{}, err
		}
		t0 := time.Now()
		o, err := runProg(s.size.timeout, argv(fmt.Sprintf("127.0.0.1:%d", port))...)
		if err != nil {
			return o, err
		}
		if _, err := sink.wait(); err != nil {
			return o, fmt.Errorf("sink: %v", err)
		}
		o.wall = sink.end.Sub(t0)
		return o, nil
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
