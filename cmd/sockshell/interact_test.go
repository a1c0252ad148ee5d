package main

import (
	"bufio"
	"net"
	"strings"
	"testing"
)

// echoServer is a Go echo peer on loopback: each line comes back, and the
// line "bye" closes the connection.
func echoServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil || strings.TrimRight(line, "\r\n") == "bye" {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return l.Addr().String()
}

// TestInteractTerminal drives interact on a pty against an echo peer: what
// is typed goes out a line at a time and comes back printed, a spawned task
// goes on meanwhile, Ctrl-] and Ctrl-C leave with the descriptor open, and
// the peer closing ends it with a word.
func TestInteractTerminal(t *testing.T) {
	addr := echoServer(t)
	term := startTerminal(t, t.TempDir())
	term.expect(prompt)
	term.send("dial " + addr + "\r")
	term.expect(`\r\n3\r\n`)
	term.expect(prompt)
	term.send("spawn(function() for i = 1, 1000 do sleep(0.2) print('tick ' .. i) end end)\r")
	term.expect(prompt)

	term.send("interact 3\r")
	term.settle()
	term.send("hello\r")
	term.expect(`hello\r\n(.|\r\n)*hello`)
	term.expect(`tick \d+`) // the task runs while interact reads
	term.send("\x1d")
	term.expect(`\r\nescape\r\n`)
	term.expect(prompt)
	term.send("info(3).state\r")
	term.expect(`"connected"`)
	term.expect(prompt)

	term.send("interact 3 crlf\r")
	term.settle()
	term.send("again\r")
	term.expect(`again\r\n(.|\r\n)*again`)
	term.send("\x03")
	term.expect(`\r\ninterrupt\r\n`)
	term.expect(prompt)
	term.send("info(3).state\r")
	term.expect(`"connected"`)
	term.expect(prompt)

	term.send("interact(3)\r")
	term.settle()
	term.send("bye\r")
	term.expect(`interact: fd 3: the peer closed the connection`)
	term.expect(`"closed"`)
	term.expect(prompt)
	term.send("fds\r")
	term.expect(`3 +inet +stream +connected +CLOSE_WAIT`)
	term.expect(prompt)
	term.send("\x04")
	<-term.done
}
