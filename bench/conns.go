package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// memoryLimit is the target for each process's peak resident memory.
const memoryLimit = 100e6

// connRun is what one run of the concurrent-connections benchmark gave.
type connRun struct {
	wall                       time.Duration // client start to client exit
	serverRSS, clientRSS       int64
	serverServed, clientServed int
}

func (s *suite) conns() *section {
	n := s.size.conns
	sec := &section{
		title: fmt.Sprintf("4. connections: %d concurrent TCP connections between two sockshell processes, a task per connection", n),
		notes: []string{
			"server (bench/lua/conn_server.lua): accepts and spawns a task per connection that echoes one message",
			"client (bench/lua/conn_client.lua): spawns a task per connection; each connects, waits until all are connected, then does one round trip",
			"peak RSS: wait4's ru_maxrss of each process; wall: client start to exit",
		},
		header: []string{"process", "served (every run)", "peak RSS (median)", "peak RSS (worst)", "wall (median)"},
	}
	switch {
	case s.sockshell == "":
		sec.skipped = s.noShell
		return sec
	case s.noTasks != "":
		sec.skipped = s.noTasks
		return sec
	}
	s.logf("connections: %d x %d runs", n, s.runs)
	var runs []connRun
	for i := 1; i <= s.runs; i++ {
		r, err := s.connRun(n)
		if err != nil {
			s.fail("connections: %v", err)
			sec.skipped = "failed: " + err.Error()
			break
		}
		runs = append(runs, r)
		if s.verbose {
			s.logf("connections run %d/%d: wall %s, server %s served %d, client %s served %d",
				i, s.runs, dur(r.wall), mb(float64(r.serverRSS)), r.serverServed, mb(float64(r.clientRSS)), r.clientServed)
		}
	}
	if len(runs) == 0 {
		return sec
	}
	allServed := true
	var srss, crss, walls []float64
	minServer, minClient := n, n
	for _, r := range runs {
		srss = append(srss, float64(r.serverRSS))
		crss = append(crss, float64(r.clientRSS))
		walls = append(walls, r.wall.Seconds())
		minServer, minClient = min(minServer, r.serverServed), min(minClient, r.clientServed)
	}
	allServed = minServer == n && minClient == n
	_, sWorst := minMax(srss)
	_, cWorst := minMax(crss)
	sec.add("server", fmt.Sprintf("%d/%d", minServer, n), mb(median(srss)), mb(sWorst), "-")
	sec.add("client", fmt.Sprintf("%d/%d", minClient, n), mb(median(crss)), mb(cWorst), secs(median(walls)))
	sec.targets = append(sec.targets, target{what: "all connections served (both sides, every run)",
		value: fmt.Sprintf("%d/%d", min(minServer, minClient), n), status: passMiss(allServed)})
	sec.addTarget("server peak RSS < 100 MB (worst run, MB)", sWorst/1e6, "%.1f", sWorst < memoryLimit)
	sec.addTarget("client peak RSS < 100 MB (worst run, MB)", cWorst/1e6, "%.1f", cWorst < memoryLimit)
	return sec
}

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
