package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func (s *suite) replay() *section { return s.replayOf(false) }

// replayDistinct is replay with payloads that differ call by call, so that
// nothing in the recording folds into loops: a recording as long as the
// session.
func (s *suite) replayDistinct() *section { return s.replayOf(true) }

func (s *suite) replayOf(distinct bool) *section {
	calls := s.size.replayCalls
	pairs := (calls - 4) / 2 // socket, connect, setopt, close, and the send/recv pairs
	calls = 2*pairs + 4
	title := fmt.Sprintf("5. replay: a script making %d calls (%d send/recv pairs of 4 bytes) against a local echo peer, recorded and replayed", calls, pairs)
	mode := "same"
	if distinct {
		title = fmt.Sprintf("5b. replay, payloads that differ call by call (nothing folds): %d calls (%d send/recv pairs of 8 bytes), recorded and replayed", calls, pairs)
		mode = "distinct"
	}
	sec := &section{
		title:  title,
		header: []string{"run", "wall", "calls/s", "wall fastest .. slowest", "send/recv loop", "CPU user + sys", "vs original"},
	}
	echo := "C echo server (bench/peers/echo.c, gcc -O2)"
	if s.echoC == "" {
		echo = "socat TCP-LISTEN:PORT,reuseaddr,fork,nodelay EXEC:cat (no gcc)"
	}
	sec.notes = []string{
		"original: sockshell bench/lua/replay_source.lua; recording: the same with --record FILE; replay: sockshell FILE",
		"peer: " + echo + ", started afresh for each run (the replay's on the port its recording used)",
		"wall: the whole process (start-up, and for the replay loading the recorded script, included); calls/s = calls / wall",
	}
	switch {
	case s.sockshell == "":
		sec.skipped = s.noShell
		return sec
	case s.noRecord != "":
		sec.skipped = s.noRecord
		return sec
	case s.echoC == "" && s.tools["socat"] == "":
		sec.skipped = "no echo peer: neither gcc nor socat"
		return sec
	}

	script := s.file("lua/replay_source.lua")
	// withEcho runs argv (made for the echo peer's address) against a fresh
	// echo peer on port (0: a free one) and returns the port it used.
	withEcho := func(port int, argv func(addr string) []string) (outcome, int, error) {
		if port == 0 {
			p, err := freePort()
			if err != nil {
				return outcome{}, 0, err
			}
			port = p
		}
		peerArgv := []string{s.echoC, strconv.Itoa(port)}
		if s.echoC == "" {
			peerArgv = []string{s.tools["socat"], fmt.Sprintf("TCP-LISTEN:%d,reuseaddr,fork,nodelay", port), "EXEC:cat"}
		}
		peer, err := start(s.size.timeout, true, peerArgv...)
		if err != nil {
			return outcome{}, port, err
		}
		defer peer.stop()
		if err := waitListening(peer, port, 10*time.Second); err != nil {
			return outcome{}, port, err
		}
		o, err := runProg(s.size.timeout, argv(fmt.Sprintf("127.0.0.1:%d", port))...)
		return o, port, err
	}

	var recFile string
	var recPort, recBytes, recLines int
	original := &contender{name: "original"}
	original.run = func() (outcome, error) {
		o, _, err := withEcho(0, func(addr string) []string {
			return []string{s.sockshell, script, addr, strconv.Itoa(pairs), mode}
		})
		return o, err
	}
	recording := &contender{name: "recording (--record)"}
	recording.run = func() (outcome, error) {
		file := filepath.Join(s.work, "replay."+mode+".rec.lua")
		o, port, err := withEcho(0, func(addr string) []string {
			return []string{s.sockshell, "--record", file, script, addr, strconv.Itoa(pairs), mode}
		})
		if err != nil {
			return o, err
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return o, fmt.Errorf("the recording: %v", err)
		}
		recFile, recPort, recBytes, recLines = file, port, len(data), bytes.Count(data, []byte("\n"))
		return o, nil
	}
	replay := &contender{name: "replay"}
	replay.run = func() (outcome, error) {
		if recFile == "" {
			return outcome{}, fmt.Errorf("no recording to replay")
		}
		o, _, err := withEcho(recPort, func(string) []string { return []string{s.sockshell, recFile} })
		recFile = ""
		return o, err
	}
	cs := []*contender{original, recording, replay}
	s.logf("replay (%s payloads): %d calls x %d runs", mode, calls, s.runs)
	s.alternate("replay", s.runs, cs)

	if recLines > 0 {
		sec.notes = append(sec.notes, fmt.Sprintf("the recording: %d lines, %s", recLines, size(int64(recBytes))))
	}
	for _, c := range cs {
		if !c.ok() {
			sec.add(c.name, c.status())
			continue
		}
		vs := "-"
		if original.ok() {
			vs = fmt.Sprintf("%.2fx", c.wall()/original.wall())
		}
		sec.add(c.name, secs(c.wall()), fmt.Sprintf("%.0f", float64(calls)/c.wall()),
			spread(c.values(func(o outcome) float64 { return o.wall.Seconds() })), secs(c.loop()), c.cpu(), vs)
	}
	sec.ratioTarget("replay/original wall time <= 1.25", replay, original, (*contender).wall, 1.25, false)
	return sec
}
