package repl

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"

	"sockshell/internal/lowfd"
	"sockshell/luaapi"
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
	// OutTerminal says Out is a terminal too. Errors go to Err unless both
	// are terminals, so that `2>/dev/null` hides them and `>out.txt` keeps
	// only results.
	OutTerminal bool
	// Abandon, if set, ends the process with the status when a signal
	// that ends the session finds the scheduler busy in Lua code that
	// never waits (see luaapi.WatchSignals). It must be safe for
	// concurrent use.
	Abandon func(status int)
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
	fgLua   bool      // fg runs a Lua line (not a command)
	errw    io.Writer // where errors go
	// prompting is set while the line editor shows the prompt and reads:
	// output then goes through the editor, which redraws the prompt below it.
	prompting atomic.Bool
	next      chan bool // the reader may read the next line (false: stop)
	quit      bool
	status    int
	dispatch  *lua.LFunction
	count     *lua.LFunction        // see counter
	openFDs   atomic.Pointer[[]int] // for completion, read by the editor
	talk      talking               // see interact.go
}

// New returns a shell on rt.
func New(rt *luaapi.Runtime, cfg Config) *Shell {
	sh := &Shell{rt: rt, cfg: cfg, next: make(chan bool, 1), talk: talking{start: make(chan struct{}, 1)}}
	sh.snapshotFDs()
	return sh
}

// Run reads and runs lines until end of input or exit. It returns the exit
// status: for piped input 1 if any command failed, else 0.
func (sh *Shell) Run() int {
	var err error
	if sh.cfg.Terminal {
		// readline keeps the history file open: out of the sockets' way.
		lowfd.KeepLowFDs(func() { sh.ed, err = newLineEditor(sh.cfg, sh.complete, &keys{talk: &sh.talk}) })
	} else {
		sh.ed = newPlainReader(sh.cfg.In)
	}
	if err != nil {
		fmt.Fprintf(sh.cfg.Err, "sockshell: %v\n", err)
		return 1
	}
	defer sh.ed.Close()
	out := sh.rt.Out()
	sh.errw = sh.cfg.Err
	if sh.cfg.Terminal {
		sh.rt.SetOutput(termWriter{sh})
		defer sh.rt.SetOutput(out)
		if sh.cfg.OutTerminal {
			sh.errw = termWriter{sh}
		}
	}
	sh.rt.SetErrOutput(sh.errw)
	defer sh.rt.SetErrOutput(sh.cfg.Err)
	defer sh.rt.WatchSignals(sh.signal, sh.busy)()
	sh.rt.SetTypist(sh)
	defer sh.rt.SetTypist(nil)

	lines := make(chan struct{})
	go sh.read(lines)
	sh.rt.RunUntil(func() bool { return sh.quit })
	close(sh.next)
	<-lines
	if sh.status != 0 {
		return sh.status
	}
	if (sh.failed || sh.rt.FailedTasks() > 0) && !sh.cfg.Terminal {
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
		line, err := sh.readline()
		sh.prompting.Store(false)
		sh.rt.Post(func() { sh.handle(line, err) })
		var ok bool
		if errors.Is(err, errInterrupt) {
			// Ctrl-C at the prompt while a task computes without ever
			// waiting (spawn(function() while true do end end)): the
			// scheduler cannot take the line, so stop that task.
			select {
			case ok = <-sh.next:
			case <-time.After(luaapi.SignalGrace):
				if t := sh.rt.Running(); t != nil {
					t.Abort()
				}
				ok = sh.awaitNext()
			}
		} else {
			ok = sh.awaitNext()
		}
		if !ok {
			return
		}
	}
}

// signal takes a signal on the scheduler's goroutine.
func (sh *Shell) signal(sig syscall.Signal) {
	switch {
	case sig == syscall.SIGINT && sh.fg != nil && sh.cfg.Terminal:
		// Ctrl-C stops what the user started: a command's waiting call
		// fails with EINTR; a Lua line stops wherever it is. The terminal
		// has echoed ^C: what follows starts on a line of its own.
		io.WriteString(sh.cfg.Out, "\n")
		if sh.fgLua {
			sh.fg.Abort()
		}
		sh.rt.Cancel(sh.fg, true)
	case sig == syscall.SIGINT && sh.cfg.Terminal:
		// at the prompt, readline has the terminal in raw mode: Ctrl-C
		// reaches it as a key, not as a signal
	default:
		sh.quit = true
		sh.status = 128 + int(sig)
		for _, t := range sh.rt.Tasks() {
			sh.rt.Cancel(t, false)
		}
	}
}

// busy takes a signal the scheduler has not taken in time: a task is
// computing without waiting. On a terminal, Ctrl-C stops that task; a
// signal that ends the session ends the process.
func (sh *Shell) busy(sig syscall.Signal, tries int) {
	if t := sh.rt.Running(); t != nil && sh.cfg.Terminal {
		t.Abort()
	}
	if sig == syscall.SIGINT && sh.cfg.Terminal {
		return
	}
	if tries >= 2 || !sh.cfg.Terminal {
		if sh.cfg.Abandon != nil {
			sh.cfg.Abandon(128 + int(sig))
		}
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

// suggest returns ` (did you mean "socket"?)` when the first word of a
// line that is not a command is close to a command's name, else "".
func suggest(line string) string {
	word := strings.FieldsFunc(line, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
	if len(word) == 0 {
		return ""
	}
	if near := luaapi.Nearest(word[0]); near != "" {
		return fmt.Sprintf(`; no command %q: did you mean %q?`, word[0], near)
	}
	return ""
}

// commandName says whether a line is in command syntax: its first word is
// a command and is followed by a space or nothing (so `recv(4)` and
// `x = recv(4)` are Lua).
func commandName(line string) (string, bool) {
	name, _, _ := strings.Cut(line, " ")
	name, _, _ = strings.Cut(name, "\t")

	_, ok := luaapi.Lookup(name)
	return name, ok
}

func (sh *Shell) runCommand(name, line string) {
	words, err := SplitWords(line)
	if err == nil {
		var c *luaapi.Command
		c, err = sh.rt.ParseCommand(words)
		if err == nil {
			sh.watch(sh.rt.SpawnCommand(line, c), false, func(t *luaapi.Task) {
				if t.Err() != "" {
					// The error is the command's, not a place in Lua.
					sh.fail(location().ReplaceAllString(t.Err(), ""))
					return
				}
				res := t.Results()
				if len(res) > 0 && res[0] != lua.LNil {
					sh.rt.SetLast(res[0])
				}
				if c.Print(sh.rt.Out(), sh.errw, res) {
					sh.failed = true
				}
			})
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
	fn, args, err := sh.rt.LoadExpr(chunk, "stdin")
	if err != nil {
		args = nil
		fn, err = sh.rt.Load(chunk, "stdin")
	}
	if err != nil {
		msg := luaapi.ErrorText(err)
		if !final && unfinished(msg) {
			sh.partial = chunk
			sh.next <- true
			return
		}
		sh.partial = ""
		sh.fail(oneLine(luaapi.SyntaxErrorText(err, strings.Count(chunk, "\n")+1)) + suggest(chunk))
		if !final {
			sh.next <- true
		}
		return
	}
	sh.partial = ""
	sh.watch(sh.rt.Spawn(line, fn, args...), true, func(t *luaapi.Task) {
		if t.Err() != "" {
			sh.fail(t.Err())
			return
		}
		res := t.Results()
		if args == nil || len(res) == 0 {
			return
		}
		n, _ := res[0].(lua.LNumber)
		res = res[1:]
		if int(n) < len(res) {
			res = res[:int(n)]
		}
		if len(res) == 0 {
			return
		}
		if len(res) == 1 && res[0] == lua.LNil {
			if hint := suggest(chunk); hint != "" && isName(strings.TrimSpace(chunk)) {
				sh.fail(strings.TrimPrefix(hint, "; "))
				return
			}
		}
		var parts []string
		for _, v := range res {
			if s, ok := v.(lua.LString); ok && sh.rt.IsText(s) {
				parts = append(parts, strings.TrimSuffix(string(s), "\n"))
				continue
			}
			parts = append(parts, luaapi.Show(v))
		}
		if res[0] != lua.LNil {
			sh.rt.SetLast(res[0])
		}
		fmt.Fprintln(sh.rt.Out(), strings.Join(parts, "\t"))
	})
}

// isName reports whether s is one Lua name.
func isName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// watch makes t the foreground task (lua: it runs a Lua line, which
// Ctrl-C stops wherever it is); when it ends, report prints its outcome
// and the next line is read.
func (sh *Shell) watch(t *luaapi.Task, lua bool, report func(*luaapi.Task)) {
	sh.fg, sh.fgLua = t, lua
	t.OnDone = func(t *luaapi.Task) {
		sh.fg = nil
		report(t)
		sh.snapshotFDs()
		if sh.rt.LimitPassed() {
			sh.quit, sh.status = true, 1
		}
		if !sh.quit {
			sh.next <- true
		}
	}
}

func (sh *Shell) fail(msg string) {
	sh.failed = true
	fmt.Fprintf(sh.errw, "error: %s\n", luaapi.Printable(oneLine(msg)))
}

func (sh *Shell) snapshotFDs() {
	fds := sh.rt.FDs()
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
