// Package repl is sockshell's shell: it reads lines (with readline on a
// terminal, plainly otherwise), turns command syntax into calls of the Lua
// functions of package luaapi, runs any other line as Lua in the same state,
// and prints results as the output contract says. It never talks to the
// engine directly.
package repl

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"

	"sockshell/luaapi"
	"sockshell/sock"
)

// location is the FILE:LINE: a Lua error starts with.
// It is compiled on first use, keeping it out of every run's start-up.
var location = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[^ :]+:\d+: `) })

// Config says where the shell reads and writes.
type Config struct {
	In       io.Reader
	Out, Err io.Writer
	// Terminal selects the line editor: prompt, completion, history.
	Terminal bool
	// HistoryFile is where a terminal session keeps its history ("" for none).
	HistoryFile string
}

// Shell is one session of the shell over a Runtime. It is not safe for
// concurrent use.
type Shell struct {
	rt  *luaapi.Runtime
	cfg Config
	ed  editor

	failed  bool   // a command failed (the exit status of piped input)
	partial string // Lua lines read so far of an unfinished chunk
	fg      *luaapi.Task
	running atomic.Pointer[luaapi.Task] // fg, for the signal goroutine
	// prompting is set while the line editor shows the prompt and reads:
	// output then goes through the editor, which redraws the prompt below it.
	prompting atomic.Bool
	next      chan bool // the reader may read the next line (false: stop)
	quit      bool
	status    int
	dispatch  *lua.LFunction
	openFDs   atomic.Pointer[[]int] // for completion, read by the editor
}

// New returns a shell on rt.
func New(rt *luaapi.Runtime, cfg Config) *Shell {
	sh := &Shell{rt: rt, cfg: cfg, next: make(chan bool, 1)}
	fn, err := rt.L.LoadString("local name = ... return _G[name](select(2, ...))")
	if err != nil {
		panic(err) // a constant chunk
	}
	sh.dispatch = fn
	sh.snapshotFDs()
	return sh
}

// Run reads and runs lines until end of input or exit. It returns the exit
// status: for piped input 1 if any command failed, else 0.
func (sh *Shell) Run() int {
	var err error
	if sh.cfg.Terminal {
		// readline keeps the history file open: out of the sockets' way.
		sock.KeepLowFDs(func() { sh.ed, err = newLineEditor(sh.cfg, sh.complete) })
	} else {
		sh.ed = newPlainReader(sh.cfg.In)
	}
	if err != nil {
		fmt.Fprintf(sh.cfg.Err, "sockshell: %v\n", err)
		return 1
	}
	defer sh.ed.Close()
	out := sh.rt.Out()
	if sh.cfg.Terminal {
		sh.rt.SetOutput(termWriter{sh})
		defer sh.rt.SetOutput(out)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	stopSignals := make(chan struct{})
	defer close(stopSignals)
	go func() {
		for {
			select {
			case <-stopSignals:
				return
			case sig := <-sigs:
				done := make(chan struct{})
				sh.rt.Post(func() { sh.signal(sig); close(done) })
				if sig != os.Interrupt {
					continue
				}
				// A task busy in Lua code keeps the scheduler from taking
				// the signal: stop that task where it is.
				select {
				case <-done:
				case <-time.After(200 * time.Millisecond):
					if t := sh.running.Load(); t != nil {
						t.Abort()
					}
				}
			}
		}
	}()

	lines := make(chan struct{})
	go sh.read(lines)
	sh.rt.RunUntil(func() bool { return sh.quit })
	close(sh.next)
	<-lines
	if sh.status != 0 {
		return sh.status
	}
	if sh.failed && !sh.cfg.Terminal {
		return 1
	}
	return 0
}

// read is the reader goroutine: it reads a line, hands it to the
// scheduler's goroutine, and waits until that line has been dealt with.
func (sh *Shell) read(done chan struct{}) {
	defer close(done)
	for {
		prompt := "sockshell> "
		if sh.partial != "" {
			prompt = "... "
		}
		sh.ed.SetPrompt(prompt)
		sh.prompting.Store(true)
		line, err := sh.ed.Readline()
		sh.prompting.Store(false)
		sh.rt.Post(func() { sh.handle(line, err) })
		if ok := <-sh.next; !ok {
			return
		}
	}
}

func (sh *Shell) signal(sig os.Signal) {
	switch {
	case sig == os.Interrupt && sh.fg != nil:
		sh.rt.Cancel(sh.fg, true)
	case sig == os.Interrupt && sh.cfg.Terminal:
		// at the prompt, readline has the terminal in raw mode: Ctrl-C
		// reaches it as a key, not as a signal
	default:
		sh.quit = true
		sh.status = 128 + int(sig.(syscall.Signal))
	}
}

// termWriter is the terminal output: through the line editor while it
// shows the prompt (a task printing between prompts), straight to the
// terminal while a command runs.
type termWriter struct{ sh *Shell }

func (w termWriter) Write(p []byte) (int, error) {
	if w.sh.prompting.Load() {
		return w.sh.ed.Stdout().Write(p)
	}
	return w.sh.cfg.Out.Write(p)
}

// handle deals with one line on the scheduler's goroutine.
func (sh *Shell) handle(line string, err error) {
	switch {
	case errors.Is(err, errInterrupt):
		sh.partial = ""
		sh.next <- true
		return
	case err != nil:
		if sh.partial != "" {
			sh.runLua("", sh.partial, true)
			sh.partial = ""
		}
		sh.quit = true
		return
	}
	if sh.partial != "" {
		sh.runLua(line, sh.partial+"\n"+line, false)
		return
	}
	trimmed := strings.TrimSpace(line)
	switch {
	case trimmed == "" || strings.HasPrefix(trimmed, "--") || trimmed == "#" || strings.HasPrefix(trimmed, "# ") || strings.HasPrefix(trimmed, "#!"): // not #x, Lua's length
		sh.next <- true
		return
	case trimmed == "exit" || trimmed == "quit":
		sh.quit = true
		return
	}
	if name, isCmd := commandName(trimmed); isCmd {
		sh.runCommand(name, trimmed)
		return
	}
	sh.runLua(line, line, false)
}

// commandName says whether a line is in command syntax: its first word is
// a command and is followed by a space or nothing (so `recv(4)` and
// `x = recv(4)` are Lua).
func commandName(line string) (string, bool) {
	name, _, _ := strings.Cut(line, " ")
	name, _, _ = strings.Cut(name, "\t")
	if name == "fds" || name == "help" || name == "tasks" {
		return name, true
	}
	_, ok := luaapi.Lookup(name)
	return name, ok
}

func (sh *Shell) runCommand(name, line string) {
	words, err := SplitWords(line)
	if err == nil {
		var c *Command
		c, err = ParseCommand(sh.rt.L, words)
		if err == nil {
			args := append([]lua.LValue{lua.LString(c.Spec.Name)}, c.Args...)
			sh.start(line, args, func(t *luaapi.Task) {
				if t.Err() != "" {
					// The error is the command's, not a place in Lua.
					sh.fail(location().ReplaceAllString(t.Err(), ""))
					return
				}
				res := t.Results()
				if len(res) == 3 && res[0] == lua.LNil {
					sh.failed = true
				}
				if len(res) > 0 && res[0] != lua.LNil {
					sh.rt.L.SetGlobal("_", res[0])
				}
				printResults(sh.rt.Out(), c, res)
			}, sh.dispatch)
			return
		}
	}
	var e interface{ Unwrap() error }
	if errors.As(err, &e) {
		sh.fail(err.Error())
	} else {
		sh.fail(name + ": EINVAL: " + err.Error())
	}
	sh.next <- true
}

// runLua runs a Lua chunk typed at the prompt: an expression prints its
// values; an unfinished chunk waits for more lines.
func (sh *Shell) runLua(line, chunk string, final bool) {
	fn, err := sh.rt.L.LoadString("return " + chunk)
	if err != nil {
		fn, err = sh.rt.L.LoadString(chunk)
	}
	if err != nil {
		msg := luaapi.ErrorText(err)
		if !final && unfinished(msg) {
			sh.partial = chunk
			sh.next <- true
			return
		}
		sh.partial = ""
		sh.fail("lua: " + oneLine(luaapi.SyntaxErrorText(err, strings.Count(chunk, "\n")+1)))
		if !final {
			sh.next <- true
		}
		return
	}
	sh.partial = ""
	sh.start(line, nil, func(t *luaapi.Task) {
		if t.Err() != "" {
			sh.fail(t.Err())
			return
		}
		res := t.Results()
		if len(res) == 1 && res[0] == lua.LNil {
			return
		}
		var parts []string
		for _, v := range res {
			parts = append(parts, luaapi.Show(v))
		}
		if len(res) > 0 {
			sh.rt.L.SetGlobal("_", res[0])
		}
		fmt.Fprintln(sh.rt.Out(), strings.Join(parts, "\t"))
	}, fn)
}

// start runs fn(args...) as the foreground task; when it ends, report
// prints its outcome and the next line is read.
func (sh *Shell) start(line string, args []lua.LValue, report func(*luaapi.Task), fn *lua.LFunction) {
	t := sh.rt.Spawn(line, fn, args...)
	sh.fg = t
	sh.running.Store(t)
	t.OnDone = func(t *luaapi.Task) {
		sh.fg = nil
		sh.running.Store(nil)
		report(t)
		sh.snapshotFDs()
		if !sh.quit {
			sh.next <- true
		}
	}
}

func (sh *Shell) fail(msg string) {
	sh.failed = true
	fmt.Fprintf(sh.rt.Out(), "error: %s\n", luaapi.Printable(oneLine(msg)))
}

func (sh *Shell) snapshotFDs() {
	fds := sh.rt.Table.FDs()
	sh.openFDs.Store(&fds)
}

// unfinished reports whether a Lua syntax error is at the end of input: the
// chunk goes on in the next line.
func unfinished(msg string) bool {
	return strings.Contains(msg, "near 'EOF'") || strings.Contains(msg, "at EOF")
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "\nstack traceback:"); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "\n", " ")
}
