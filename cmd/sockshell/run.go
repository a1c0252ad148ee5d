package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/internal/lowfd"
	"sockshell/lab"
	"sockshell/luaapi"
	"sockshell/repl"
)

// version is sockshell's version, printed by --version and written into
// recordings.
const version = "0.1.0"

const usage = `usage:
  sockshell                       interactive shell (readline when stdin is a terminal)
  sockshell SCRIPT.lua [ARG...]   run a scenario script (Lua's arg table holds ARGs)
  sockshell -e 'CHUNK'            run a Lua chunk
  sockshell -i SCRIPT.lua         run the script, then stay in the shell with its state
  sockshell -j N SCRIPT.lua       run the script in N worker processes (a pre-fork pool)
  sockshell -c ADDR               connect and interact, as nc host port does
  sockshell -l ADDR               listen, accept one connection and interact (nc -l)
  sockshell --record FILE ...     record this session (shell or script) as a Lua script
  sockshell --proxy LISTEN UPSTREAM [--record FILE]
                                  relay clients of LISTEN to UPSTREAM (and record them)
  sockshell --as server|client FILE [--lenient]
                                  play one side of a recording against real peers
  sockshell -h | --help | --version

options:
  -e CHUNK         run CHUNK (before the script, if one is given); several
                   -e run in order, as with lua
  -i               after the script or chunk, stay in the shell
  -j N             run SCRIPT in N worker processes, each handed every
                   listening socket the -e chunks made; their output lines
                   start [1] .. [N]
  -c ADDR          dial ADDR (host:port, [v6]:port, /path, @name; udp:ADDR for
                   datagrams) and interact: stdin goes to it, what comes back to
                   stdout, until the peer closes or stdin ends
  -l ADDR          serve ADDR, accept one connection, close the listener and
                   interact with the connection as -c does
  --crlf           with -c or -l, end what is sent with \r\n, not \n
  -x               with -c or -l, print what arrives as a hexdump
  --record FILE    record every operation into FILE as a replayable Lua script
  --realtime       in a replay, keep the recorded pauses (at() waits)
  --log FILE       log every byte each descriptor sends and receives into FILE
                   (appended; - for the output), as log on FILE does
  --proxy LISTEN UPSTREAM
                   accept clients on LISTEN, connect each to UPSTREAM and
                   relay both ways (TCP or AF_UNIX), until stopped
  --as ROLE FILE   server: serve real clients the recording's server side,
                   checking what they send; client: play its client side
                   against the real server
  --lenient        with --as, report each divergence and go on
  --sandbox        refuse programs, every file access, closing stdio and os.exit
  --allow CIDR     connect and sendto may reach only these networks (repeat or
                   separate with commas: --allow 127.0.0.0/8,::1/128)
  --timeout SECS   the session default timeout (scripts and piped input: 10s;
                   the interactive shell: none; 0: none)
  --max-memory MIB end the session when it holds more than MIB MiB of memory
                   (default 1024; 0: no limit)
  --max-time SECS  end the session after SECS seconds (default: no limit)
  --wire           show the packets of the session's sockets beside its calls
                   (needs root or CAP_NET_RAW; without it, says so and goes on)
  --pcap FILE      write those packets to FILE, a pcap file tcpdump -r reads
  --netns          run the session in a network namespace of its own, loopback
                   up: nothing touches the machine's (needs root)
  --lab SETTINGS   build the lab: hosts a (198.18.0.1) and b (198.18.0.2), each
                   a network namespace, joined by a link sockshell carries with
                   SETTINGS ("delay 100ms loss 5%"; see lab in the README); the
                   next sockets are made on a (host b for b's; needs root)
  --version        print the version
`

// options are the command line's settings.
type options struct {
	chunks                  []string
	record, timeout, log    string
	interactive, sandbox    bool
	realtime, help, version bool
	script                  string
	args                    []string
	allow                   []netip.Prefix
	limits                  luaapi.Limits
	jobs                    int
	wire, netns             bool
	pcap, lab               string
	talk                    talkFlags
	proxy, upstream, as     string
	lenient                 bool
}

func parseArgs(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("sockshell", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Func("e", "", func(v string) error { o.chunks = append(o.chunks, v); return nil })
	fs.BoolVar(&o.interactive, "i", false, "")
	fs.StringVar(&o.record, "record", "", "")
	fs.StringVar(&o.log, "log", "", "")
	fs.BoolVar(&o.realtime, "realtime", false, "")
	fs.StringVar(&o.proxy, "proxy", "", "")
	fs.StringVar(&o.as, "as", "", "")
	fs.BoolVar(&o.lenient, "lenient", false, "")
	fs.BoolVar(&o.sandbox, "sandbox", false, "")
	fs.StringVar(&o.timeout, "timeout", "", "")
	fs.BoolVar(&o.help, "h", false, "")
	fs.BoolVar(&o.help, "help", false, "")
	fs.BoolVar(&o.version, "version", false, "")
	fs.BoolVar(&o.wire, "wire", false, "")
	fs.StringVar(&o.pcap, "pcap", "", "")
	fs.BoolVar(&o.netns, "netns", false, "")
	fs.StringVar(&o.lab, "lab", "", "")
	o.talk.register(fs)
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
	fs.Func("j", "", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 256 {
			return fmt.Errorf("expected a number of workers from 1 to 256")
		}
		o.jobs = n
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
	if o.proxy != "" { // --proxy takes two values: the second is the first argument left
		rest := fs.Args()
		if len(rest) == 0 {
			return nil, fmt.Errorf("--proxy needs LISTEN and UPSTREAM addresses")
		}
		o.upstream = rest[0]
		if err := fs.Parse(rest[1:]); err != nil {
			return nil, err
		}
	}
	if rest := fs.Args(); len(rest) > 0 {
		o.script, o.args = rest[0], rest[1:]
	}
	if o.as != "" && len(o.args) > 0 { // --as FILE --lenient: no arguments, flags
		if err := fs.Parse(o.args); err != nil {
			return nil, err
		}
		o.args = fs.Args()
	}
	if err := o.playing(); err != nil {
		return nil, err
	}
	if err := o.talk.check(o); err != nil {
		return nil, err
	}
	if o.jobs > 0 && o.script == "" {
		return nil, fmt.Errorf("-j needs a SCRIPT for the workers to run")
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
	luaapi.IgnoreQuit()
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
	child, err := enterNetns()
	if err != nil {
		fmt.Fprintf(stderr, "sockshell: --netns: %v\n", err)
		return 1
	}
	if o.netns && !child {
		return runInNetns(args, stdin, stdout, stderr)
	}
	var labCfg lab.Config
	if o.lab != "" {
		if labCfg, err = lab.Parse(o.lab); err != nil {
			fmt.Fprintf(stderr, "sockshell: bad --lab: %v\nrun sockshell -h for the usage\n", err)
			return 2
		}
	}
	terminal := isTerminal(stdin)
	shell := o.script == "" && len(o.chunks) == 0 || o.interactive
	timeout := 10 * time.Second
	if shell && terminal && o.script == "" && len(o.chunks) == 0 {
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
	luaapi.SoftMemoryLimit(o.limits.MaxMemory)
	rt, err := luaapi.New(luaapi.Config{Stdout: stdout, Stderr: stderr, DefaultTimeout: timeout,
		Sandbox: o.sandbox, Realtime: o.realtime, Allow: o.allow, Interruptible: shell && terminal, Limits: o.limits, LadderOnDemand: !shell,
		Stdin: stdin})
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
	if o.log != "" {
		if err := rt.Log(o.log); err != nil {
			fmt.Fprintf(stderr, "sockshell: %v\n", err)
			return 1
		}
	}
	if o.lab != "" {
		if err := rt.SetLab(labCfg); err != nil {
			fmt.Fprintf(stderr, "sockshell: %v\n", err)
			return 1
		}
	}
	if o.wire || o.pcap != "" {
		if err := rt.StartWire(o.wire, o.pcap); errors.Is(err, unix.EPERM) {
			fmt.Fprintf(stderr, "sockshell: wire: needs root or CAP_NET_RAW (going on without it)\n")
		} else if err != nil {
			fmt.Fprintf(stderr, "sockshell: %v\n", err)
			return 1
		}
	}
	rt.SetArgs(o.script, o.args)

	for _, chunk := range o.chunks {
		status = rt.RunMain(func() string { return chunk + "\n" }, func() (*lua.LFunction, error) {
			return rt.Load(chunk, "(command line)")
		}, rec.abandon)
		if status != 0 {
			break
		}
	}
	if o.script != "" && status == 0 {
		// The source is read again only for a syntax error at its end (to
		// name its last line): opening a file starts Go's poller, whose
		// descriptors should not land among the sockets.
		src := func() string { b, _ := os.ReadFile(o.script); return string(b) }
		lowfd.ReservePoller() // before LoadFile opens the script, which starts Go's poller
		load := func() (*lua.LFunction, error) { return rt.LoadFile(o.script) }
		if o.jobs > 0 {
			load = rt.WorkersMain(o.jobs, o.script)
		}
		status = rt.RunMain(src, load, rec.abandon)
	}
	if status != 0 && o.interactive {
		return status
	}
	if !shell {
		return status
	}
	// After -i, a terminal shell waits as long as it takes.
	if terminal && o.timeout == "" {
		rt.SetDefaultTimeout(0)
	}
	lowfd.ReservePoller()
	sh := repl.New(rt, repl.Config{In: stdin, Out: stdout, Err: stderr, Terminal: terminal,
		OutTerminal: isTerminal(stdout), HistoryFile: historyFile(terminal), Abandon: rec.abandon})
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

func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

var errNoRecord = fmt.Errorf("not recording (%w)", unix.EINVAL)
