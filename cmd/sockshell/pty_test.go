package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyTimeout is how long the terminal test waits for any one piece of
// output: generous, for slow and loaded machines.
const ptyTimeout = 10 * time.Second

// terminal is sockshell running on a pseudo-terminal, as a person would
// run it.
type terminal struct {
	t    *testing.T
	pty  *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer // everything the shell wrote
	seen int          // how much of out earlier expects consumed
	done chan struct{}
	err  error // the exit, once done is closed
}

func startTerminal(t *testing.T, home string, args ...string) *terminal {
	t.Helper()
	if p, tty, err := pty.Open(); err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	} else {
		p.Close()
		tty.Close()
	}
	cmd := exec.Command("sockshell", args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "TERM=xterm")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, pty: f, cmd: cmd, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		term.err = cmd.Wait()
		close(term.done)
	}()
	t.Cleanup(func() {
		select {
		case <-term.done:
		default:
			cmd.Process.Kill()
			<-term.done
		}
		f.Close()
	})
	return term
}

// send types s.
func (term *terminal) send(s string) {
	term.t.Helper()
	if _, err := term.pty.Write([]byte(s)); err != nil {
		term.t.Fatalf("typing %q: %v", s, err)
	}
}

// expect waits until the output after what earlier expects consumed
// matches re, and consumes it; it returns the match's submatches.
func (term *terminal) expect(re string) []string {
	term.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(ptyTimeout)
	for {
		term.mu.Lock()
		out := term.out.String()
		rest := out[term.seen:]
		loc := rx.FindStringSubmatchIndex(rest)
		if loc != nil {
			term.seen += loc[1]
		}
		term.mu.Unlock()
		if loc != nil {
			var subs []string
			for i := 0; i < len(loc); i += 2 {
				if loc[i] >= 0 {
					subs = append(subs, rest[loc[i]:loc[i+1]])
				} else {
					subs = append(subs, "")
				}
			}
			return subs
		}
		if time.Now().After(deadline) {
			term.t.Fatalf("no %q in the terminal after %v; since the last match it shows:\n%q", re, ptyTimeout, rest)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// since returns the output after what earlier expects consumed, without
// consuming it.
func (term *terminal) since() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()[term.seen:]
}

// all returns everything the shell wrote.
func (term *terminal) all() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

// settle waits until the shell has written nothing new for a while.
func (term *terminal) settle() {
	n := -1
	for range 100 {
		term.mu.Lock()
		m := term.out.Len()
		term.mu.Unlock()
		if m == n {
			return
		}
		n = m
		time.Sleep(50 * time.Millisecond)
	}
}

const prompt = `sockshell> `

// TestTerminal drives the interactive shell on a pty: the prompt, Tab
// completion of commands, descriptors and option names, Ctrl-C cancelling a
// waiting call (EINTR) and clearing the line at the prompt, history in
// $HOME/.sockshell_history and Up-arrow, and Ctrl-D leaving with status 0.
func TestTerminal(t *testing.T) {
	home := t.TempDir()
	term := startTerminal(t, home)
	term.expect(prompt)

	term.send("socket inet stream\r")
	term.expect(`\r\n3\r\n`)
	term.expect(prompt)

	// A command name completes.
	term.send("bin\t")
	term.expect(`d `)
	term.send("3 127.0.0.1:0\r")
	term.expect(`\r\nok\r\n`)
	term.send("listen 3\r")
	term.expect(`\r\nok\r\n`)
	term.expect(prompt)

	// Option names complete after setopt FD: Tab twice lists them all,
	// a prefix completes to one.
	term.send("setopt 3 \t\t")
	term.expect(`reuseaddr`)
	term.expect(`linger`)
	term.settle()
	term.send("nod\t")
	term.expect(`elay `)
	term.send("on\r")
	term.expect(`\r\nok\r\n`)
	term.send("getopt 3 nodelay\r")
	term.expect(`\r\non\r\n`)
	term.expect(prompt)

	// Ctrl-C while accept waits cancels that call only: EINTR, the prompt
	// comes back, and the descriptor is still there.
	term.send("accept 3\r")
	term.settle()
	if s := term.since(); strings.Contains(s, "error") {
		t.Fatalf("accept 3 should wait for a connection; the terminal shows %q", s)
	}
	term.send("\x03")
	term.expect(`error: accept 3: EINTR`)
	term.expect(prompt)
	term.send("fds\r")
	term.expect(`FD +DOMAIN +TYPE +STATE +TCP +LOCAL`)
	term.expect(`3 +inet +stream +listening +LISTEN +127\.0\.0\.1:\d+`)
	term.expect(prompt)

	// Ctrl-C at the prompt clears the line: what was typed never runs.
	term.send("close 3")
	term.settle()
	term.send("\x03")
	term.settle()
	term.send("getsockname 3\r")
	addr := term.expect(`\r\n(127\.0\.0\.1:\d+)\r\n`)[1]
	term.expect(prompt)
	if strings.Contains(term.all(), "error: close") {
		t.Fatalf("the line cleared by Ctrl-C ran")
	}

	// Up-arrow recalls the last line.
	term.send("\x1b[A")
	term.settle()
	term.send("\r")
	term.expect(`\r\n` + regexp.QuoteMeta(addr) + `\r\n`)
	term.expect(prompt)

	// The socket really listens on the kernel's port.
	c, err := net.DialTimeout("tcp", addr, ptyTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c.Close()

	// A descriptor completes after close; then a new socket takes fd 3.
	term.send("socket unix dgram\r")
	term.expect(`\r\n4\r\n`)
	term.send("close 4\r")
	term.expect(`\r\nok\r\n`)
	term.expect(prompt)
	term.send("close \t")
	term.expect(`3 `)
	term.send("\r")
	term.expect(`\r\nok\r\n`)
	term.expect(prompt)
	term.send("socket inet stream\r")
	term.expect(`\r\n3\r\n`)
	term.send("bind 3 127.0.0.1:0\r")
	term.expect(`\r\nok\r\n`)
	term.send("listen 3\r")
	term.expect(`\r\nok\r\n`)
	term.send("getsockname 3\r")
	addr = term.expect(`\r\n(127\.0\.0\.1:\d+)\r\n`)[1]
	term.expect(prompt)

	// Ctrl-D leaves with status 0, closing the sockets.
	term.send("\x04")
	select {
	case <-term.done:
	case <-time.After(ptyTimeout):
		t.Fatalf("still running %v after Ctrl-D; the terminal shows %q", ptyTimeout, term.since())
	}
	if term.err != nil {
		var exit *exec.ExitError
		if errors.As(term.err, &exit) {
			t.Errorf("exit status %d after Ctrl-D, want 0", exit.ExitCode())
		} else {
			t.Errorf("after Ctrl-D: %v", term.err)
		}
	}
	if c, err := net.DialTimeout("tcp", addr, ptyTimeout); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the shell left", addr)
	}

	// The history file holds the lines typed.
	hist, err := os.ReadFile(filepath.Join(home, ".sockshell_history"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"bind 3 127.0.0.1:0", "listen 3", "accept 3", "getsockname 3", "close 3"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + ` *$`).Match(hist) {
			t.Errorf("%s does not hold %q:\n%s", filepath.Join(home, ".sockshell_history"), line, hist)
		}
	}
}

// TestTaskOutputBesidePrompt has a task print while the prompt is drawn
// again and again (Enter pressed on an empty line): each line a task prints
// goes above the prompt, never after it on the prompt's line, and every
// one arrives.
func TestTaskOutputBesidePrompt(t *testing.T) {
	term := startTerminal(t, t.TempDir())
	term.expect(prompt)
	const n = 300
	term.send("spawn(function() for i = 1, " + strconv.Itoa(n) + " do sleep(0.002) print('tick ' .. i) end print('ticks done') end)\r")
	for range 400 {
		term.send("\r")
		time.Sleep(2 * time.Millisecond)
	}
	term.expect(`ticks done`)
	term.settle()
	out := term.all()
	if i := strings.Index(out, prompt+"tick"); i >= 0 {
		t.Errorf("a task's line was written after the prompt, on its line: %q", out[max(0, i-80):min(len(out), i+80)])
	}
	for i := 1; i <= n; i++ {
		if !strings.Contains(out, "tick "+strconv.Itoa(i)+"\r\n") && !strings.Contains(out, "tick "+strconv.Itoa(i)+"\n") {
			t.Fatalf("tick %d is missing", i)
		}
	}
	term.send("\x04")
}
