package main

import (
	"fmt"
	"strconv"
)

// progContender is a contender that runs one program per run; skip says why
// it cannot run ("" if it can).
func (s *suite) progContender(name, skip string, argv ...string) *contender {
	c := &contender{name: name, skip: skip}
	c.run = func() (outcome, error) { return runProg(s.size.timeout, argv...) }
	return c
}

func (s *suite) whyNot(peer string) string {
	if s.tools[peer] != "" {
		return ""
	}
	return peer + " " + s.missing[peer]
}

func (s *suite) whyNoShell() string {
	if s.sockshell != "" {
		return ""
	}
	return "no sockshell binary (see above)"
}

func (s *suite) pingpong() *section {
	n := s.size.roundTrips
	arg := strconv.Itoa(n)
	sec := &section{
		title: fmt.Sprintf("1. ping-pong: %d round trips of 1 byte each way between two connected TCP sockets on loopback, one thread, TCP_NODELAY", n),
		notes: []string{
			"loop: the program's own timing of its send/recv loop (median); wall: the whole process, start-up and set-up included",
		},
		header: []string{"contender", "loop", "per round trip", "loop fastest .. slowest", "wall", "CPU user + sys", "loop vs C"},
	}
	cSkip := s.whyNot("gcc")
	if cSkip == "" && s.pingpongC == "" {
		cSkip = "the C program did not compile"
	}
	shell := s.progContender("sockshell", s.whyNoShell(), s.sockshell, s.file("lua/pingpong.lua"), arg)
	cProg := s.progContender("C (gcc -O2)", cSkip, s.pingpongC, arg)
	luasocket := s.progContender("LuaSocket (lua5.1)", s.whyNot("lua5.1"), s.tools["lua5.1"], s.file("peers/pingpong_luasocket.lua"), arg)
	python := s.progContender("Python socket", s.whyNot("python3"), s.tools["python3"], s.file("peers/pingpong.py"), arg)
	cs := []*contender{shell, cProg, luasocket, python}
	s.logf("ping-pong: %d round trips x %d runs", n, s.runs)
	s.alternate("ping-pong", s.runs, cs)

	loop := func(c *contender) float64 { return c.loop() }
	for _, c := range cs {
		if !c.ok() {
			sec.add(c.name, c.status())
			continue
		}
		vsC := "-"
		if cProg.ok() {
			vsC = fmt.Sprintf("%.2fx", c.loop()/cProg.loop())
		}
		sec.add(c.name, secs(c.loop()), fmt.Sprintf("%.0f ns", c.loop()/float64(n)*1e9),
			spread(c.values(func(o outcome) float64 { return o.loop })), secs(c.wall()), c.cpu(), vsC)
	}
	for _, c := range cs {
		if c.ok() && !c.hasLoop() {
			c.failed = "printed no loop_s= line"
			s.fail("ping-pong: %s printed no loop_s= line", c.name)
		}
	}
	sec.ratioTarget("sockshell/C loop time <= 1.10", shell, cProg, loop, 1.10, false)
	sec.ratioTarget("sockshell/LuaSocket loop time < 1", shell, luasocket, loop, 1, true)
	sec.ratioTarget("sockshell/Python loop time < 1", shell, python, loop, 1, true)
	return sec
}
