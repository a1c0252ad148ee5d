package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/luaapi"
	"sockshell/repl"
	"sockshell/sock"
)

// version is sockshell's version, printed by --version and written into
// recordings.
const version = "0.1.0"

const usage = `usage:
  sockshell                       interactive shell (readline when stdin is a terminal)
  sockshell SCRIPT.lua [ARG...]   run a scenario script (Lua's arg table holds ARGs)
  sockshell -e 'CHUNK'            run a Lua chunk
  sockshell -i SCRIPT.lua         run the script, then stay in the shell with its state
  sockshell --record FILE ...     record this session (shell or script) as a Lua script
  sockshell -h | --help | --version

options:
  -e CHUNK         run CHUNK (before the script, if one is given)
  -i               after the script or chunk, stay in the shell
  --record FILE    record every operation into FILE as a replayable Lua script
  --realtime       in a replay, keep the recorded pauses (at() waits)
  --sandbox        refuse programs, every file access, closing stdio and os.exit
  --allow CIDR     connect and sendto may reach only these networks (repeat or
                   separate with commas: --allow 127.0.0.0/8,::1/128)
  --timeout SECS   the session default timeout (scripts and piped input: 10s;
                   the interactive shell: none; 0: none)
  --max-memory MIB end the session when it holds more than MIB MiB of memory
                   (default 1024; 0: no limit)
  --max-time SECS  end the session after SECS seconds (default: no limit)
  --version        print the version
`

// options are the command line's settings.
type options struct {
	chunk, record, timeout  string
	interactive, sandbox    bool
	realtime, help, version bool
	script                  string
	args                    []string
	allow                   []netip.Prefix
	limits                  luaapi.Limits
}

func parseArgs(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("sockshell", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.chunk, "e", "", "")
	fs.BoolVar(&o.interactive, "i", false, "")
	fs.StringVar(&o.record, "record", "", "")
	fs.BoolVar(&o.realtime, "realtime", false, "")
	fs.BoolVar(&o.sandbox, "sandbox", false, "")
	fs.StringVar(&o.timeout, "timeout", "", "")
	fs.BoolVar(&o.help, "h", false, "")
	fs.BoolVar(&o.help, "help", false, "")
	fs.BoolVar(&o.version, "version", false, "")
	o.limits.MaxMemory = 1024 << 20
	fs.Func("max-memory", "", func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			return fmt.Errorf("bad --max-memory %q: expected MiB (1024; 0: no limit)", v)
		}
		o.limits.MaxMemory = n << 20
		return nil
	})
	fs.Func("max-time", "", func(v string) error {
		d, ok := luaapi.ParseSeconds(v)
		if !ok || d < 0 {
			return fmt.Errorf("bad --max-time %q: expected seconds (2, 0.5) or a duration (250ms)", v)
		}
		o.limits.MaxTime = d
		return nil
	})
	fs.Func("allow", "", func(v string) error {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			p, err := netip.ParsePrefix(s)
			if err != nil {
				a, aerr := netip.ParseAddr(s)
				if aerr != nil {
					return fmt.Errorf("bad network %q: expected CIDR like 127.0.0.0/8 or an address", s)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			o.allow = append(o.allow, p.Masked())
		}
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if rest := fs.Args(); len(rest) > 0 {
		o.script, o.args = rest[0], rest[1:]
	}
	return o, nil
}

// run is sockshell as a function of its arguments and standard streams.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) (status int) {
	defer func() {
		// Operations recover their own panics; this is the last line, so
		// that no Go stack trace ever reaches the user.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "sockshell: internal error: %v\n", r)
			status = 70
		}
	}()
	o, err := parseArgs(args[1:], stderr)
	if err != nil {
		fmt.Fprintf(stderr, "sockshell: %v\nrun sockshell -h for the usage\n", err)
		return 2
	}
	switch {
	case o.help:
		fmt.Fprint(stdout, usage)
		return 0
	case o.version:
		fmt.Fprintf(stdout, "sockshell %s\n", version)
		return 0
	}
	terminal := isTerminal(stdin)
	shell := o.script == "" && o.chunk == "" || o.interactive
	timeout := 10 * time.Second
	if shell && terminal && o.script == "" && o.chunk == "" {
		timeout = 0
	}
	if o.timeout != "" {
		d, ok := luaapi.ParseSeconds(o.timeout)
		if !ok {
			fmt.Fprintf(stderr, "sockshell: bad --timeout %q: expected seconds (2, 0.5) or a duration (250ms)\n", o.timeout)
			return 2
		}
		timeout = d
	}
	rt, err := luaapi.New(luaapi.Config{Stdout: stdout, Stderr: stderr, DefaultTimeout: timeout,
		Sandbox: o.sandbox, Realtime: o.realtime, Allow: o.allow, Interruptible: shell && terminal, Limits: o.limits})
	if err != nil {
		fmt.Fprintf(stderr, "sockshell: %v\n", err)
		return 1
	}
	defer rt.Close()
	rec := newRecording(rt, stderr, args)
	defer rec.stop()
	if o.record != "" {
		if err := rec.start(o.record); err != nil {
			fmt.Fprintf(stderr, "sockshell: %v\n", err)
			return 1
		}
	}
	rt.OnRecord = rec.toggle
	setArgs(rt.L, o)

	if o.chunk != "" {
		status = runMain(rt, stderr, func() string { return o.chunk + "\n" }, func() (*lua.LFunction, error) {
			return rt.L.Load(strings.NewReader(o.chunk), "(command line)")
		})
	}
	if o.script != "" && status == 0 {
		// The source is read again only for a syntax error at its end (to
		// name its last line): opening a file starts Go's poller, whose
		// descriptors should not land among the sockets.
		src := func() string { b, _ := os.ReadFile(o.script); return string(b) }
		reserveLowFDs() // before LoadFile opens the script, which starts Go's poller
		status = runMain(rt, stderr, src, func() (*lua.LFunction, error) { return rt.L.LoadFile(o.script) })
	}
	if !shell {
		return status
	}
	// After -i, a terminal shell waits as long as it takes.
	if terminal && o.timeout == "" {
		rt.SetDefaultTimeout(0)
	}
	reserveLowFDs()
	sh := repl.New(rt, repl.Config{In: stdin, Out: stdout, Err: stderr, Terminal: terminal,
		HistoryFile: historyFile(terminal)})
	if st := sh.Run(); st != 0 {
		return st
	}
	return status
}

func historyFile(terminal bool) string {
	if !terminal {
		return ""
	}
	return repl.DefaultHistoryFile()
}

// setArgs gives the script Lua's arg table: arg[0] the script, arg[1..]
// its arguments, arg[-1] the program.
func setArgs(L *lua.LState, o *options) {
	t := L.NewTable()
	t.RawSetInt(-1, lua.LString("sockshell"))
	t.RawSetInt(0, lua.LString(o.script))
	for i, a := range o.args {
		t.RawSetInt(i+1, lua.LString(a))
	}
	L.SetGlobal("arg", t)
}

// runMain runs a chunk or script as the main task. When it ends, the other
// tasks are cancelled. A Lua error prints FILE:LINE: message and gives 1.
func runMain(rt *luaapi.Runtime, stderr io.Writer, src func() string, load func() (*lua.LFunction, error)) int {
	fn, err := load()
	if err != nil {
		msg := luaapi.SyntaxErrorText(err, strings.Count(src(), "\n"))
		if msg == strings.TrimSpace(luaapi.ErrorText(err)) { // not a syntax error: say who speaks
			msg = "sockshell: " + msg
		}
		fmt.Fprintln(stderr, msg)
		return 1
	}
	var args []lua.LValue
	if a, ok := rt.L.GetGlobal("arg").(*lua.LTable); ok {
		for i := 1; i <= a.Len(); i++ {
			args = append(args, a.RawGetInt(i))
		}
	}
	main := rt.Spawn("main", fn, args...)
	interrupted := 0
	sigs := make(chan os.Signal, 2)
	defer signal.Stop(sigs)
	stop := make(chan struct{})
	defer close(stop)
	// Signals end the script cleanly (sockets closed, recording finished).
	// Watching them costs a thread and about a millisecond, so a script
	// starts watching when it first waits; until then a signal ends the
	// process at once, which the kernel cleans up after as well — unless
	// the session is being recorded.
	watch := func() {
		reserveLowFDs()
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		go func() {
			for {
				select {
				case sig := <-sigs:
					rt.Post(func() {
						interrupted = 128 + int(sig.(syscall.Signal))
						rt.Cancel(main, false)
					})
				case <-stop:
					return
				}
			}
		}()
	}
	if rt.Recording() {
		watch()
	} else {
		rt.BeforeWait = watch
	}
	rt.RunUntil(main.Done)
	rt.BeforeWait = nil
	for _, t := range rt.Tasks() {
		rt.Cancel(t, false)
	}
	switch {
	case interrupted != 0:
		return interrupted
	case main.Err() != "":
		fmt.Fprintln(stderr, main.Err())
		return 1
	case rt.FailedTasks() > 0:
		return 1
	}
	return 0
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

var errNoRecord = fmt.Errorf("not recording (%w)", unix.EINVAL)

var reserveOnce sync.Once

// reserveLowFDs makes the Go runtime's network poller take its descriptors
// now, above the numbers kept for the session's sockets.
func reserveLowFDs() {
	reserveOnce.Do(func() {
		sock.KeepLowFDs(func() {
			if r, w, err := os.Pipe(); err == nil { // a pollable file starts the poller
				r.Close()
				w.Close()
			}
		})
	})
}
