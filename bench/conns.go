package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// perConnLimit is the target for each process's peak resident memory,
// divided by the connections it holds.
const perConnLimit = 6 << 10

// fdMargin is how many descriptors below the per-process limit the largest
// case stops: the process's own (stdio, epoll, the runtime's) and slack.
const fdMargin = 1000

// connRun is what one run of the concurrent-connections benchmark gave.
type connRun struct {
	wall                       time.Duration // client start to client exit
	serverRSS, clientRSS       int64
	serverServed, clientServed int
}

func (s *suite) conns() *section {
	ns := s.connCounts()
	counts := make([]string, len(ns))
	for i, n := range ns {
		counts[i] = strconv.Itoa(n)
	}
	sec := &section{
		title: fmt.Sprintf("4. connections: %s concurrent TCP connections between two sockshell processes, a task per connection", strings.Join(counts, " and ")),
		notes: []string{
			"server (bench/lua/conn_server.lua): accepts and spawns a task per connection that echoes one message",
			"client (bench/lua/conn_client.lua): spawns a task per connection; each connects, waits until all are connected, then does one round trip",
			"peak RSS: wait4's ru_maxrss of each process; per connection: the worst run's peak RSS less the idle process's, divided by the connections (KiB); wall: client start to exit",
		},
		header: []string{"process", "served (every run)", "peak RSS (median)", "peak RSS (worst)", "per connection (worst)", "wall (median)"},
	}
	if len(ns) > 1 {
		sec.notes = append(sec.notes, fmt.Sprintf("%d: the hard RLIMIT_NOFILE (%d) less %d, or the ephemeral ports less %d, whichever is fewer",
			ns[len(ns)-1], s.nofileMax, fdMargin, fdMargin))
	}
	switch {
	case s.sockshell == "":
		sec.skipped = s.noShell
		return sec
	case s.noTasks != "":
		sec.skipped = s.noTasks
		return sec
	}
	idle, err := runProg(s.size.timeout, s.sockshell, "-e", "x=1")
	if err != nil {
		s.fail("connections: the idle process: %v", err)
		sec.skipped = "failed: " + err.Error()
		return sec
	}
	sec.add("idle process (-e 'x=1')", "-", mb(float64(idle.maxRSS)), "-", "-", "-")
	for _, n := range ns {
		if !s.connCase(sec, n, float64(idle.maxRSS)) {
			break
		}
	}
	return sec
}

// connCounts are the sizes the benchmark runs: the suite's, then as many
// as one process's descriptors allow (not with -quick).
func (s *suite) connCounts() []int {
	ns := []int{s.size.conns}
	if s.quick || s.nofileMax == 0 {
		return ns
	}
	limit := int(min(s.nofileMax, 1<<20)) - fdMargin
	if ports := ephemeralPorts(); ports > 0 {
		limit = min(limit, ports-fdMargin)
	}
	if limit > s.size.conns {
		ns = append(ns, limit)
	}
	return ns
}

// ephemeralPorts is the size of the kernel's range of source ports, which
// bounds the connections from one address to one server; 0 if unknown.
func ephemeralPorts() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || hi < lo {
		return 0
	}
	return hi - lo + 1
}

// connCase runs n connections s.runs times and adds its rows and targets;
// it reports whether it ran. idle is the peak RSS of a process that holds
// none.
func (s *suite) connCase(sec *section, n int, idle float64) bool {
	s.logf("connections: %d x %d runs", n, s.runs)
	var runs []connRun
	for i := 1; i <= s.runs; i++ {
		r, err := s.connRun(n)
		if err != nil {
			s.fail("connections: %d: %v", n, err)
			sec.add(fmt.Sprintf("%d connections", n), "failed: "+err.Error())
			break
		}
		runs = append(runs, r)
		if s.verbose {
			s.logf("connections %d run %d/%d: wall %s, server %s served %d, client %s served %d",
				n, i, s.runs, dur(r.wall), mb(float64(r.serverRSS)), r.serverServed, mb(float64(r.clientRSS)), r.clientServed)
		}
	}
	if len(runs) == 0 {
		return false
	}
	var srss, crss, walls []float64
	minServer, minClient := n, n
	for _, r := range runs {
		srss = append(srss, float64(r.serverRSS))
		crss = append(crss, float64(r.clientRSS))
		walls = append(walls, r.wall.Seconds())
		minServer, minClient = min(minServer, r.serverServed), min(minClient, r.clientServed)
	}
	allServed := minServer == n && minClient == n
	_, sWorst := minMax(srss)
	_, cWorst := minMax(crss)
	sPer, cPer := (sWorst-idle)/float64(n), (cWorst-idle)/float64(n)
	sec.add(fmt.Sprintf("server, %d", n), fmt.Sprintf("%d/%d", minServer, n), mb(median(srss)), mb(sWorst), kib(sPer), "-")
	sec.add(fmt.Sprintf("client, %d", n), fmt.Sprintf("%d/%d", minClient, n), mb(median(crss)), mb(cWorst), kib(cPer), secs(median(walls)))
	sec.targets = append(sec.targets, target{what: fmt.Sprintf("%d connections all served (both sides, every run)", n),
		value: fmt.Sprintf("%d/%d", min(minServer, minClient), n), status: passMiss(allServed)})
	for _, side := range []struct {
		name string
		per  float64
	}{{"server", sPer}, {"client", cPer}} {
		what := fmt.Sprintf("%d: %s peak RSS per connection <= 6 KiB (worst run, KiB)", n, side.name)
		if s.quick {
			sec.addNA(what, "-quick: too few connections to weigh one")
			continue
		}
		sec.addTarget(what, side.per/1024, "%.2f", side.per <= perConnLimit)
	}
	return true
}

func kib(bytes float64) string { return fmt.Sprintf("%.2f KiB", bytes/1024) }

func passMiss(pass bool) string {
	if pass {
		return "PASS"
	}
	return "MISS"
}

// connRun runs the server and the client once.
func (s *suite) connRun(n int) (connRun, error) {
	var r connRun
	port, err := freePort()
	if err != nil {
		return r, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	server, err := start(s.size.timeout, false, s.sockshell, s.file("lua/conn_server.lua"), addr, strconv.Itoa(n))
	if err != nil {
		return r, err
	}
	defer server.stop()
	if err := waitListening(server, port, 10*time.Second); err != nil {
		return r, err
	}
	client, err := runProg(s.size.timeout, s.sockshell, s.file("lua/conn_client.lua"), addr, strconv.Itoa(n))
	if err != nil {
		return r, fmt.Errorf("client: %v", err)
	}
	so, err := server.wait()
	if err != nil {
		return r, fmt.Errorf("server: %v", err)
	}
	r.wall = client.wall
	r.serverRSS, r.clientRSS = so.maxRSS, client.maxRSS
	r.serverServed, err = served(so.stdout)
	if err != nil {
		return r, fmt.Errorf("server: %v", err)
	}
	r.clientServed, err = served(client.stdout)
	if err != nil {
		return r, fmt.Errorf("client: %v", err)
	}
	return r, nil
}

// served reads the "served N ERRORS" line the scripts print.
func served(stdout string) (int, error) {
	for _, line := range strings.Split(stdout, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "served" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no \"served N\" line in its output: %q", lastLine(stdout))
}
