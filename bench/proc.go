package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// outcome is what one run of a program gave.
type outcome struct {
	wall   time.Duration // from start to exit, as the runner saw it
	loop   float64       // seconds the program reported for its timed loop (loop_s=), 0 if none
	stdout string
	maxRSS int64 // peak resident memory in bytes (wait4's ru_maxrss)
	// user and sys are the CPU time the program spent in user space and in
	// the kernel (wait4's ru_utime, ru_stime): how far from the syscall
	// limit it is.
	user, sys time.Duration
}

// proc is a started program. Its output is kept in memory unless discarded.
type proc struct {
	argv           []string
	cmd            *exec.Cmd
	cancel         context.CancelFunc
	stdout, stderr bytes.Buffer
	start          time.Time
	end            time.Time
	err            error
	done           chan struct{}
}

// start runs argv in the background; it is killed after timeout. With
// discard, its standard output goes to /dev/null.
func start(timeout time.Duration, discard bool, argv ...string) (*proc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	p := &proc{argv: argv, cancel: cancel, done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	if !discard {
		p.cmd.Stdout = &p.stdout
	}
	p.cmd.Stderr = &p.stderr
	p.cmd.WaitDelay = time.Second
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("%s: %v", name(argv), err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.end = time.Now()
		close(p.done)
	}()
	return p, nil
}

// wait waits for the program to exit and says how it went; an exit status
// other than 0 (or a kill at the timeout) is an error.
func (p *proc) wait() (outcome, error) {
	<-p.done
	p.cancel()
	o := outcome{wall: p.end.Sub(p.start), stdout: p.stdout.String()}
	if ps := p.cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			o.maxRSS = ru.Maxrss * 1024 // KiB on Linux
			o.user = time.Duration(ru.Utime.Nano())
			o.sys = time.Duration(ru.Stime.Nano())
		}
	}
	o.loop = loopSeconds(o.stdout)
	if p.err != nil {
		msg := firstLine(p.stderr.String())
		if p.stderr.Len() == 0 {
			msg = lastLine(o.stdout)
		}
		return o, fmt.Errorf("%s: %v: %s", name(p.argv), p.err, msg)
	}
	return o, nil
}

// exited reports whether the program has already exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop kills the program (a peer that would otherwise run forever) and
// waits for it.
func (p *proc) stop() {
	if !p.exited() {
		p.cmd.Process.Kill()
	}
	<-p.done
	p.cancel()
}

// runProg runs argv to completion.
func runProg(timeout time.Duration, argv ...string) (outcome, error) {
	p, err := start(timeout, false, argv...)
	if err != nil {
		return outcome{}, err
	}
	return p.wait()
}

// name is how a command is shown in messages: its program's base name and
// arguments, shortened.
func name(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if i := strings.LastIndexByte(a, '/'); i >= 0 && strings.HasPrefix(a, "/") {
			a = a[i+1:]
		}
		parts[i] = a
	}
	s := strings.Join(parts, " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// loopSeconds finds the "loop_s=SECONDS" line a contender prints.
func loopSeconds(stdout string) float64 {
	for _, line := range strings.Split(stdout, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "loop_s="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return 0
}

// freePort asks the kernel for a free loopback TCP port. Another program
// could take it before the peer binds it; on a quiet machine none does.
func freePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitListening waits until a socket listens on the TCP port, reading the
// kernel's table instead of connecting (a probe connection would use up a
// one-connection peer such as the socat sink).
func waitListening(p *proc, port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	want := fmt.Sprintf(":%04X", port)
	for {
		for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
			data, err := os.ReadFile(table)
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(data), "\n")[1:] {
				f := strings.Fields(line)
				if len(f) > 3 && strings.HasSuffix(f[1], want) && f[3] == "0A" {
					return nil
				}
			}
		}
		if err := exitedEarly(p, fmt.Sprintf("port %d", port), deadline, timeout); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// exitedEarly is the error of a wait for p to listen at where: p exited,
// or the deadline passed; nil while it may still.
func exitedEarly(p *proc, where string, deadline time.Time, timeout time.Duration) error {
	if p.exited() {
		_, err := p.wait()
		if err == nil {
			err = fmt.Errorf("%s exited before listening on %s", name(p.argv), where)
		}
		return err
	}
	if time.Now().After(deadline) {
		return fmt.Errorf("%s did not listen on %s within %v", name(p.argv), where, timeout)
	}
	return nil
}
