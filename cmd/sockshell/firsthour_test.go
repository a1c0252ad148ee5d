package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTerminalFirstHour is a newcomer's first hour on a terminal: Lua
// mistakes show their own messages, Ctrl-C stops whatever a typed line
// does (waiting or computing, in the line or in a task it spawned), data
// pastes back as the same bytes, results print as they read, and help
// knows every command.
func TestTerminalFirstHour(t *testing.T) {
	term := startTerminal(t, t.TempDir())
	term.expect(prompt)
	run := func(line, want string) {
		t.Helper()
		term.send(line + "\r")
		term.expect(want)
		term.expect(prompt)
	}

	// Every Lua error prints its own message with the line's place.
	run(`error("boom")`, `\r\nerror: stdin:1: boom\r\n`)
	run(`x = nil + 1`, `\r\nerror: stdin:1: cannot perform add operation between nil and number\r\n`)
	run(`expect(1, 2)`, `\r\nerror: stdin:1: expected 2, got 1\r\n`)
	run(`recv(nil)`, `\r\nerror: stdin:1: recv: EINVAL: bad argument #1: expected a descriptor number, got nil\r\n`)
	run(`pcall(error, "x")`, `\r\nfalse\t"x"\r\n`)
	// A spawned task's error comes after the line is done, above the
	// prompt: an empty line shows the prompt again whatever the order.
	term.send(`local function worker() error("bad") end spawn(worker)` + "\r")
	term.expect(`task 1 \(worker\): stdin:1: bad\r\n`)
	term.settle()
	term.send("\r")
	term.expect(prompt)
	run(`sockett inet stream`, `did you mean "socket"\?\r\n`)
	if s := term.all(); strings.Contains(s, "interrupted") || strings.Contains(s, "prelude") || strings.Contains(s, "<string>") {
		t.Fatalf("the terminal shows a message that is not the error's own:\n%s", s)
	}

	// Results print the way a person reads them.
	run(`hexdump("abc")`, `\r\n00000000  61 62 63 +\|abc\|\r\n00000003\r\n`)
	run(`nil`, `\r\nnil\r\n`)
	run(`help exit`, `close every socket`)

	// A connection to play with: 3 listens, 4 is the client, 5 the server.
	run(`socket inet stream`, `\r\n3\r\n`)
	run(`bind 3 127.0.0.1:0`, `\r\nok\r\n`)
	run(`listen 3`, `\r\nok\r\n`)
	run(`socket inet stream`, `\r\n4\r\n`)
	run(`connect(4, getsockname(3))`, `\r\ntrue\r\n`)
	run(`accept 3`, `\r\n5 127\.0\.0\.1:\d+\r\n`)

	// Bytes round-trip: what recv prints, pasted into a Lua line, is the
	// same bytes.
	run(`send(4, "\0\x01\xff1")`, `\r\n4\r\n`)
	run(`recv 5`, `\r\n"\\0\\x01\\xff1"\r\n`)
	run(`send(4, "\0\x01\xff1") x = recv(5) print(#x, x:byte(1, -1))`, `\r\n4\t0\t1\t255\t49\r\n`)

	// Ctrl-C stops a Lua loop around a waiting call, and one that never
	// waits.
	term.interrupt("while true do local d, e = recv(5) end")
	term.interrupt("while true do end")
	// ...and a task it spawned that computes for ever, which would keep
	// the shell from reading another line.
	run(`spawn(function() while true do end end)`, `\r\ntask 2\r\n`)
	time.Sleep(300 * time.Millisecond)
	term.send("\x03")
	term.expect(`task 2: interrupted`)
	term.settle()
	// The descriptors are all still there.
	run(`fds`, `5 +inet +stream +connected +ESTABLISHED`)

	term.send("quit\r")
	select {
	case <-term.done:
	case <-time.After(ptyTimeout):
		t.Fatalf("still running after quit; the terminal shows %q", term.since())
	}
}

// TestTerminalAfterScript: after -i, errors typed at the prompt show
// their own messages too.
func TestTerminalAfterScript(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "setup.lua")
	if err := os.WriteFile(script, []byte("greeting = 'hi'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	term := startTerminal(t, dir, "-i", script)
	term.expect(prompt)
	term.send("greeting\r")
	term.expect(`\r\n"hi"\r\n`)
	term.send(`error("after -i")` + "\r")
	term.expect(`\r\nerror: stdin:1: after -i\r\n`)
	term.expect(prompt)
	term.send("\x04")
	select {
	case <-term.done:
	case <-time.After(ptyTimeout):
		t.Fatalf("still running after Ctrl-D")
	}
}

// TestTerminalInterruptsWaitInPlace: a wait where gopher-lua cannot yield
// (inside a metamethod) waits in place, and Ctrl-C stops it too.
func TestTerminalInterruptsWaitInPlace(t *testing.T) {
	term := startTerminal(t, t.TempDir())
	term.expect(prompt)
	term.send(`t = setmetatable({}, {__index = function(t, k) sleep(600) return k end})` + "\r")
	term.expect(prompt)
	term.interrupt("t.x")
	term.send("1 + 1\r")
	term.expect(`\r\n2\r\n`)
}

// interrupt types line, presses Ctrl-C while it runs, and expects it
// stopped and the prompt back.
func (term *terminal) interrupt(line string) {
	term.t.Helper()
	term.send(line + "\r")
	time.Sleep(300 * time.Millisecond)
	term.send("\x03")
	term.expect(`error: interrupted\r\n`)
	term.expect(prompt)
}
