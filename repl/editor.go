package repl

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chzyer/readline"

	"sockshell/luaapi"
)

// errInterrupt is Ctrl-C at the prompt.
var errInterrupt = readline.ErrInterrupt

// editor reads lines: readline on a terminal, a plain reader otherwise.
type editor interface {
	Readline() (string, error)
	SetPrompt(string)
	Stdout() io.Writer
	Close() error
}

// plainReader reads lines from a pipe or file: no prompt, no escape codes,
// no history.
type plainReader struct {
	r *bufio.Reader
}

func newPlainReader(in io.Reader) *plainReader {
	return &plainReader{r: bufio.NewReaderSize(in, 64<<10)}
}

func (p *plainReader) Readline() (string, error) {
	line, err := p.r.ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (p *plainReader) SetPrompt(string)  {}
func (p *plainReader) Stdout() io.Writer { return nil }
func (p *plainReader) Close() error      { return nil }

type lineEditor struct {
	*readline.Instance
	keys  *keys      // see interact.go
	stdin *wakeStdin // nil when the input has no descriptor to poll
}

func newLineEditor(cfg Config, complete func(line []rune, pos int) ([][]rune, int), k *keys) (*lineEditor, error) {
	var stdin *wakeStdin
	var in io.ReadCloser // readline's default: os.Stdin
	if f, ok := cfg.In.(interface{ Fd() uintptr }); ok {
		if s, err := newWakeStdin(int(f.Fd())); err == nil {
			stdin, in = s, s
		}
	}
	rl, err := readline.NewEx(&readline.Config{
		Stdin:             in,
		Prompt:            "sockshell> ",
		HistoryFile:       cfg.HistoryFile,
		AutoComplete:      completer(complete),
		InterruptPrompt:   "^C",
		EOFPrompt:         "exit",
		HistorySearchFold: true,
		Stdout:            cfg.Out,
		Stderr:            cfg.Err,
		// Ctrl-] during interact
		FuncFilterInputRune: k.filter,
	})
	if err != nil {
		if stdin != nil {
			stdin.closeAll()
		}
		return nil, err
	}
	return &lineEditor{rl, k, stdin}, nil
}

// Close closes the line editor and its input's wake pipe.
func (e *lineEditor) Close() error {
	if e.stdin != nil {
		e.stdin.Close() // readline waits for its reader, which is in Read
	}
	err := e.Instance.Close()
	if e.stdin != nil {
		e.stdin.closeAll()
	}
	return err
}

// Stdout is the terminal's output while the prompt shows: each write
// clears the prompt's line, writes, and draws the prompt and the line
// being typed again below it.
func (e *lineEditor) Stdout() io.Writer { return settledWriter{e} }

// settledWriter writes through readline once it is reading keys. Readline
// draws the prompt and only then starts reading (and between two keys it
// is not reading either): what it is given in between, it writes as is,
// after the prompt on the prompt's line, and does not draw the prompt
// again. The wait is at most settleMax, so a stuck editor cannot hold
// the output back.
type settledWriter struct{ e *lineEditor }

const settleMax = 20 * time.Millisecond

func (w settledWriter) Write(p []byte) (int, error) {
	for deadline := time.Now().Add(settleMax); !w.e.Terminal.IsReading() && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
	}
	return w.e.Instance.Stdout().Write(p)
}

type completer func(line []rune, pos int) ([][]rune, int)

func (c completer) Do(line []rune, pos int) ([][]rune, int) { return c(line, pos) }

// DefaultHistoryFile is ~/.sockshell_history.
func DefaultHistoryFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".sockshell_history")
}

// complete offers command names for the first word, then what the
// command's parameter at the cursor takes (the spec says: open
// descriptors, domains, types, option names, on/off, ...).
func (sh *Shell) complete(line []rune, pos int) ([][]rune, int) {
	head := string(line[:pos])
	fields := strings.Fields(head)
	if len(fields) == 0 || (len(fields) == 1 && !strings.HasSuffix(head, " ")) {
		prefix := ""
		if len(fields) == 1 {
			prefix = fields[0]
		}
		return candidates(luaapi.CommandNames(), prefix)
	}
	s, ok := luaapi.Lookup(fields[0])
	if !ok {
		return nil, 0
	}
	for len(fields) > 1 && (fields[1] == "-x" || fields[1] == "-a") {
		fields = append(fields[:1], fields[2:]...) // display flags take no parameter
	}
	arg := len(fields) - 1 // index of the parameter being typed
	prefix := ""
	if !strings.HasSuffix(head, " ") {
		arg--
		prefix = fields[len(fields)-1]
	}
	var fds []int
	if p := sh.openFDs.Load(); p != nil {
		fds = *p
	}
	return candidates(s.Choices(arg, fds), prefix)
}

// candidates returns the suffixes of names that start with prefix, as
// readline wants them.
func candidates(names []string, prefix string) ([][]rune, int) {
	var out [][]rune
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, []rune(n[len(prefix):]+" "))
		}
	}
	return out, len([]rune(prefix))
}
