package repl

import (
	"errors"
	"io"
	"sync/atomic"

	"github.com/chzyer/readline"
	"golang.org/x/sys/unix"

	"sockshell/internal/lowfd"
	"sockshell/luaapi"
)

// The shell's side of interact (luaapi.Typist): while interact runs, the
// reader goroutine reads lines for it and hands each to the runtime,
// which sends it; the scheduler goes on running the tasks meanwhile. On a
// terminal the line editor reads them, with no prompt and no history:
// Ctrl-] (the escape key, as telnet's) and Ctrl-C end the interaction,
// Ctrl-D too, as the end of input does.

// talking is the reader's state for interact.
type talking struct {
	on      atomic.Bool   // an interact reads what is typed
	reading atomic.Bool   // the reader is in Readline for it
	start   chan struct{} // interact began (buffered)
	// left is a line the plain reader read for an interact that had
	// ended: a line of the shell's.
	left *readLine
}

type readLine struct {
	line string
	err  error
}

// keys is what the line editor's key filter saw.
type keys struct {
	escape atomic.Bool // Ctrl-] ended the line
	stop   atomic.Bool // StopTyping ended it
	talk   *talking
}

// stopKey is what StopTyping puts into the line editor's input to end the
// line being read for an interact that has ended: a code point of Unicode's
// private use area, which no key sends.
const stopKey = '\ue000'

// filter is the line editor's key filter: during interact Ctrl-] ends the
// line as Enter does, marked as the escape; stopKey ends it, marked as
// stopped. At the prompt Ctrl-] is ignored.
func (k *keys) filter(r rune) (rune, bool) {
	switch r {
	case 0x1d:
		if !k.talk.on.Load() {
			return r, false
		}
		k.escape.Store(true)
		return readline.CharEnter, true
	case stopKey:
		k.stop.Store(true)
		return readline.CharEnter, true
	}
	return r, true
}

// StartTyping is called on the scheduler's goroutine when interact
// begins: the reader, waiting for the line it handed over to be done,
// reads for interact meanwhile.
func (sh *Shell) StartTyping() {
	sh.talk.on.Store(true)
	select {
	case sh.talk.start <- struct{}{}:
	default:
	}
}

// StopTyping is called on the scheduler's goroutine when interact ends.
// A line editor reading for it is made to return.
func (sh *Shell) StopTyping() {
	sh.talk.on.Store(false)
	if le, ok := sh.ed.(*lineEditor); ok && le.stdin != nil && sh.talk.reading.Load() {
		le.stdin.wake()
	}
}

// awaitNext waits until the line the reader handed over has been dealt
// with, reading for interact meanwhile if it starts one. It reports
// whether the reader may read on.
func (sh *Shell) awaitNext() bool {
	for {
		select {
		case ok := <-sh.next:
			return ok
		case <-sh.talk.start:
			sh.readForInteract()
		}
	}
}

// readForInteract reads lines for interact until it ends or the input
// does.
func (sh *Shell) readForInteract() {
	le, _ := sh.ed.(*lineEditor)
	if le != nil {
		le.HistoryDisable()
		defer le.HistoryEnable()
		le.keys.stop.Store(false)
		le.keys.escape.Store(false)
	}
	sh.ed.SetPrompt("")
	for {
		sh.talk.reading.Store(true)
		if !sh.talk.on.Load() {
			sh.talk.reading.Store(false)
			return
		}
		sh.prompting.Store(true)
		line, err := sh.ed.Readline()
		sh.prompting.Store(false)
		sh.talk.reading.Store(false)
		switch {
		case le != nil && le.keys.stop.Swap(false):
			return // interact ended; what was typed goes nowhere
		case le != nil && le.keys.escape.Swap(false):
			sh.rt.Typed("", luaapi.ErrEscape)
			return
		case !sh.talk.on.Load():
			// The plain reader read past the end of the interaction:
			// the line is the shell's.
			sh.talk.left = &readLine{line, err}
			return
		case errors.Is(err, errInterrupt):
			sh.rt.Typed("", luaapi.ErrInterrupt)
			return
		case err != nil:
			sh.rt.Typed("", io.EOF)
			return
		}
		sh.rt.Typed(line, nil)
	}
}

// readline reads the shell's next line: one read past an interaction
// first.
func (sh *Shell) readline() (string, error) {
	if l := sh.talk.left; l != nil {
		sh.talk.left = nil
		return l.line, l.err
	}
	for {
		line, err := sh.ed.Readline()
		if le, ok := sh.ed.(*lineEditor); ok && le.keys.stop.Swap(false) {
			continue // the end of an interaction that had ended already
		}
		return line, err
	}
}

// wakeStdin is the line editor's input: the terminal, read when poll says
// it has bytes, or stopKey when wake is called, so that a line being read
// for an interaction that has ended returns without a key being pressed
// (readline's own WriteStdin is read only after the next key).
type wakeStdin struct {
	fd     int
	r, w   int // the wake pipe
	closed atomic.Bool
}

func newWakeStdin(fd int) (*wakeStdin, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, err
	}
	return &wakeStdin{fd: fd, r: lowfd.Private(p[0]), w: lowfd.Private(p[1])}, nil
}

func (s *wakeStdin) Read(b []byte) (int, error) {
	for {
		if s.closed.Load() {
			return 0, io.EOF
		}
		fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}, {Fd: int32(s.r), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil && err != unix.EINTR {
			return 0, err
		}
		if fds[1].Revents != 0 {
			var buf [16]byte
			unix.Read(s.r, buf[:])
			if s.closed.Load() {
				return 0, io.EOF
			}
			return copy(b, string(stopKey)), nil
		}
		if fds[0].Revents != 0 {
			n, err := unix.Read(s.fd, b)
			switch {
			case err == unix.EAGAIN || err == unix.EINTR:
				continue
			case err != nil:
				return 0, err
			case n == 0:
				return 0, io.EOF
			}
			return n, nil
		}
	}
}

// wake makes the Read under way return stopKey.
func (s *wakeStdin) wake() { unix.Write(s.w, []byte{1}) }

func (s *wakeStdin) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.wake()
	return nil
}

// closeAll closes the wake pipe, once the line editor is done with it.
func (s *wakeStdin) closeAll() {
	s.Close()
	unix.Close(s.r)
	unix.Close(s.w)
}
