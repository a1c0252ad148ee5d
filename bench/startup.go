package main

import "fmt"

// startupLimit is the target for sockshell's start-up against lua5.1's.
const startupLimit = 1.5

func (s *suite) startup() *section {
	execs := s.runs * s.size.startupExecs
	sec := &section{
		title: fmt.Sprintf("3. start-up: running a trivial chunk, %d executions of each (%d per run), alternated one by one", execs, s.size.startupExecs),
		notes: []string{
			"time: fork, exec and exit as the runner sees it (median and fastest)",
			"--version: the same binary without the Lua runtime: what Go's runtime and the packages' initialisation cost",
		},
		header: []string{"contender", "median", "fastest", "CPU user + sys", "vs lua5.1"},
	}
	shell := s.progContender("sockshell (static) -e 'x=1'", s.whyNoShell(), s.sockshell, "-e", "x=1")
	bare := s.progContender("sockshell (static) --version", s.whyNoShell(), s.sockshell, "--version")
	lua := s.progContender("lua5.1 -e 'x=1'", s.whyNot("lua5.1"), s.tools["lua5.1"], "-e", "x=1")
	cs := []*contender{shell, lua, bare}
	var cgo *contender
	if s.sockshellCgo != "" {
		cgo = s.progContender("sockshell (cgo) -e 'x=1'", "", s.sockshellCgo, "-e", "x=1")
		cs = append(cs, cgo)
		sec.notes = append(sec.notes,
			"static: the binary the README installs (CGO_ENABLED=0); cgo: what go run, go build and go install make where a C compiler is found (libc loaded at start-up)")
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
	sec.ratioTarget("sockshell (static)/lua5.1 start-up <= 1.5", shell, lua, (*contender).wall, startupLimit, false)
	if cgo != nil {
		sec.ratioTarget("sockshell (cgo)/lua5.1 start-up <= 1.5", cgo, lua, (*contender).wall, startupLimit, false)
	}
	return sec
}
