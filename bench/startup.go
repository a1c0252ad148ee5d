package main

import "fmt"

func (s *suite) startup() *section {
	execs := s.runs * s.size.startupExecs
	sec := &section{
		title: fmt.Sprintf("3. start-up: running a trivial chunk, %d executions of each (%d per run), alternated one by one", execs, s.size.startupExecs),
		notes: []string{
			"time: fork, exec and exit as the runner sees it (median and fastest)",
		},
		header: []string{"contender", "median", "fastest", "CPU user + sys", "vs lua5.1"},
	}
	shell := s.progContender("sockshell (static) -e 'x=1'", s.whyNoShell(), s.sockshell, "-e", "x=1")
	lua := s.progContender("lua5.1 -e 'x=1'", s.whyNot("lua5.1"), s.tools["lua5.1"], "-e", "x=1")
	cs := []*contender{shell, lua}
	if s.sockshellCgo != "" {
		cs = append(cs, s.progContender("sockshell (cgo) -e 'x=1'", "", s.sockshellCgo, "-e", "x=1"))
		sec.notes = append(sec.notes,
			"static: the binary the README installs (CGO_ENABLED=0); cgo: what a plain go build makes where a C compiler is found (libc loaded at start-up), for comparison")
	}
	s.logf("start-up: %d executions each", execs)
	s.alternate("start-up", execs, cs)

	for _, c := range cs {
		if !c.ok() {
			sec.add(c.name, c.status())
			continue
		}
		lo, _ := minMax(c.values(func(o outcome) float64 { return o.wall.Seconds() }))
		vs := "-"
		if lua.ok() {
			vs = fmt.Sprintf("%.2fx", c.wall()/lua.wall())
		}
		sec.add(c.name, secs(c.wall()), secs(lo), c.cpu(), vs)
	}
	sec.ratioTarget("sockshell/lua5.1 start-up <= 2", shell, lua, (*contender).wall, 2, false)
	return sec
}
