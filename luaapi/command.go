package luaapi

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// The shell's side of the specs: how a command line's words become the
// arguments of an operation, what Tab offers for each parameter, and how
// results print. All of it is by the kinds of the parameters and results,
// so a new operation needs nothing here unless it brings a new kind.

// Word is one word of a command line.
type Word struct {
	Text   string // the word with quotes and escapes resolved
	Quoted bool   // it was written in double quotes or as hex:
}

// Command is a parsed command line: the operation and its arguments as Lua
// values.
type Command struct {
	Spec *Spec
	Args []lua.LValue
	hex  bool // -x: data as a hexdump
	all  bool // -a: long data in full
}

// longData is how many bytes of received data the shell prints before it
// summarises the rest.
const longData = 1024

// wordKind is how the shell reads a word as a value of one kind of
// parameter (parse: the value, or "" and a description of what was
// expected) and what Tab offers for it.
type wordKind struct {
	parse   func(rt *Runtime, w Word) (lua.LValue, string)
	choices func() []string
}

func number(want string) func(rt *Runtime, w Word) (lua.LValue, string) {
	return func(rt *Runtime, w Word) (lua.LValue, string) {
		n, err := strconv.Atoi(w.Text)
		if err != nil || w.Quoted {
			return nil, want
		}
		return lua.LNumber(n), ""
	}
}

func words(ws ...string) func() []string { return func() []string { return ws } }

var wordKinds = map[Kind]wordKind{
	KFD:   {parse: number("a descriptor number")},
	KInt:  {parse: number("a whole number")},
	KTask: {parse: number("a task number (see tasks)")},
	KSeconds: {parse: func(rt *Runtime, w Word) (lua.LValue, string) {
		if w.Text == "off" {
			return lua.LString(w.Text), ""
		}
		if n, err := strconv.ParseFloat(w.Text, 64); err == nil && n < 0 {
			return lua.LNumber(n), "" // settimeout FD -1: back to the default
		}
		d, ok := ParseSeconds(w.Text)
		if !ok {
			return nil, "seconds (2, 0.5) or a duration (250ms)"
		}
		return lua.LNumber(d.Seconds()), ""
	}},
	KOnOff: {parse: func(rt *Runtime, w Word) (lua.LValue, string) {
		switch w.Text {
		case "on", "true", "1":
			return lua.LTrue, ""
		case "off", "false", "0":
			return lua.LFalse, ""
		}
		return nil, "on or off"
	}, choices: words("on", "off")},
	KValue: {parse: func(rt *Runtime, w Word) (lua.LValue, string) {
		switch w.Text {
		case "on", "true":
			return lua.LTrue, ""
		case "off", "false":
			return lua.LFalse, ""
		}
		if n, err := strconv.Atoi(w.Text); err == nil {
			return lua.LNumber(n), ""
		}
		return nil, "on, off or a number"
	}, choices: words("on", "off")},
	KFDList: {parse: func(rt *Runtime, w Word) (lua.LValue, string) {
		list := rt.ls.NewTable()
		for _, f := range strings.Split(w.Text, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return nil, "descriptors separated by commas (3,4)"
			}
			list.Append(lua.LNumber(n))
		}
		return list, ""
	}},
	KData: {parse: func(rt *Runtime, w Word) (lua.LValue, string) {
		if w.Text == "_" && !w.Quoted { // the last result: hexdump _
			return rt.ls.GetGlobal("_"), ""
		}
		return lua.LString(w.Text), ""
	}},
	KDomain:  {choices: func() []string { return sock.DomainNames() }},
	KType:    {choices: func() []string { return sock.TypeNames() }},
	KHow:     {choices: func() []string { return sock.HowNames() }},
	KHeader:  {choices: func() []string { return sock.FrameHeaders() }},
	KCommand: {choices: func() []string { return CommandNames() }},
	KOption: {choices: func() []string {
		var names []string
		for _, o := range sock.Options() {
			names = append(names, o.Name)
		}
		return names
	}},
}

// usageError is an EINVAL in the shell's error format.
func usageError(s *Spec, format string, args ...any) error {
	return &sock.Error{Op: s.Name, FD: -1, Err: unix.EINVAL, Detail: fmt.Sprintf(format, args...) + "; usage: " + s.Usage()}
}

// ParseCommand turns the words of a command line into a call of the
// operation named by the first word, converting each word by the kind of
// its parameter. Flags after the name change how results print: -x shows
// data as a hexdump, -a long data in full.
func (rt *Runtime) ParseCommand(words []Word) (*Command, error) {
	s, ok := Lookup(words[0].Text)
	if !ok {
		return nil, &sock.Error{Op: words[0].Text, FD: -1, Err: unix.EINVAL, Detail: "no such command"}
	}
	c := &Command{Spec: s}
	rest := words[1:]
	for len(rest) > 0 && !rest[0].Quoted && (rest[0].Text == "-x" || rest[0].Text == "-a") {
		if rest[0].Text == "-x" {
			c.hex = true
		} else {
			c.all = true
		}
		rest = rest[1:]
	}
	for i, prm := range s.Params {
		if prm.Kind == KRest {
			for _, w := range rest[i:] {
				c.Args = append(c.Args, lua.LString(w.Text))
			}
			return c, nil
		}
		if i >= len(rest) {
			if prm.Optional {
				break
			}
			return nil, usageError(s, "missing %s", strings.ToUpper(prm.Name))
		}
		if prm.Kind == KFunc {
			return nil, usageError(s, "%s needs a Lua function: write it as Lua, e.g. %s(function() ... end)", s.Name, s.Name)
		}
		v := lua.LValue(lua.LString(rest[i].Text))
		if k, ok := wordKinds[prm.Kind]; ok && k.parse != nil {
			var want string
			if v, want = k.parse(rt, rest[i]); want != "" {
				return nil, usageError(s, "bad %s %q: expected %s", strings.ToUpper(prm.Name), rest[i].Text, want)
			}
		}
		c.Args = append(c.Args, v)
	}
	if len(rest) > len(s.Params) {
		return nil, usageError(s, "too many arguments (%q is one too many)", rest[len(s.Params)].Text)
	}
	return c, nil
}

// Choices returns what the shell's Tab offers for parameter arg of the
// operation: fds (the open descriptors) for a descriptor, the words a
// kind takes (domains, types, option names, on/off, ...), else nothing.
func (s *Spec) Choices(arg int, fds []int) []string {
	if arg < 0 || arg >= len(s.Params) {
		return nil
	}
	k := s.Params[arg].Kind
	if k == KFD {
		var opts []string
		for _, fd := range fds {
			opts = append(opts, strconv.Itoa(fd))
		}
		return opts
	}
	if wk, ok := wordKinds[k]; ok && wk.choices != nil {
		return wk.choices()
	}
	return nil
}

// CommandNames is every command the shell takes: the operations, then
// exit and quit.
func CommandNames() []string {
	names := make([]string, 0, len(specs)+2)
	for _, s := range specs {
		names = append(names, s.Name)
	}
	return append(names, "exit", "quit")
}

// Print prints what the command returned, by the kinds of its results: a
// failure on errw as one "error: " line, the rest on w. It reports whether
// the command failed. Nothing a peer chose reaches the terminal as it is:
// data and addresses are quoted when they need it, messages escaped.
func (c *Command) Print(w, errw io.Writer, res []lua.LValue) (failed bool) {
	s := c.Spec
	if len(res) >= 3 && res[0] == lua.LNil {
		fmt.Fprintf(errw, "error: %s\n", Printable(res[1].String()))
		return true
	}
	if len(res) == 0 || len(s.Results) == 0 { // help prints its own text
		return false
	}
	var parts []string
	for i, v := range res {
		k := KAny
		if i < len(s.Results) {
			k = s.Results[i]
		}
		if i == 0 && c.hex && (k == KData || k == KChunk) {
			if d, ok := v.(lua.LString); ok {
				io.WriteString(w, Hexdump(string(d)))
				continue
			}
		}
		if p, ok := resultPrinters[k]; ok {
			if text, ok := p(c, v); ok {
				parts = append(parts, text)
				continue
			}
		}
		parts = append(parts, Show(v))
	}
	if len(parts) > 0 {
		fmt.Fprintln(w, strings.Join(parts, " "))
	}
	return false
}

// resultPrinters print a result of a kind, when it is of the Lua type
// the kind promises (ok false: print it as Show does).
var resultPrinters = map[Kind]func(c *Command, v lua.LValue) (string, bool){
	KOK: func(c *Command, v lua.LValue) (string, bool) { return "ok", v == lua.LTrue },
	KData: func(c *Command, v lua.LValue) (string, bool) {
		d, ok := v.(lua.LString)
		return c.data(string(d)), ok
	},
	KChunk: func(c *Command, v lua.LValue) (string, bool) {
		d, ok := v.(lua.LString)
		if ok && d == "" {
			return "eof", true
		}
		return c.data(string(d)), ok
	},
	KAddr: func(c *Command, v lua.LValue) (string, bool) {
		a, ok := v.(lua.LString)
		if ok && a == "" {
			return "(unnamed)", true
		}
		return QuoteAddr(string(a)), ok
	},
	KWhole: func(c *Command, v lua.LValue) (string, bool) {
		return fmt.Sprintf("(cut short: the datagram had %s bytes)", Show(v)), true
	},
	KString: func(c *Command, v lua.LValue) (string, bool) {
		str, ok := v.(lua.LString)
		lines := strings.Split(strings.TrimSuffix(string(str), "\n"), "\n") // a hexdump ends its last line
		for i, l := range lines {
			lines[i] = Printable(l)
		}
		return strings.Join(lines, "\n"), ok
	},
	KAny: func(c *Command, v lua.LValue) (string, bool) {
		b, ok := v.(lua.LBool)
		if b {
			return "on", ok
		}
		return "off", ok
	},
	KInfo: func(c *Command, v lua.LValue) (string, bool) {
		t, ok := v.(*lua.LTable)
		if !ok {
			return "", false
		}
		return descriptorTable([]sock.Info{InfoFromTable(t)}), true
	},
	KInfoList: func(c *Command, v lua.LValue) (string, bool) {
		t, ok := v.(*lua.LTable)
		if !ok {
			return "", false
		}
		var rows []sock.Info
		for i := 1; i <= t.Len(); i++ {
			if row, ok := t.RawGetInt(i).(*lua.LTable); ok {
				rows = append(rows, InfoFromTable(row))
			}
		}
		return descriptorTable(rows), true
	},
	KTaskList: func(c *Command, v lua.LValue) (string, bool) {
		t, ok := v.(*lua.LTable)
		if !ok {
			return "", false
		}
		return taskTable(t), true
	},
	KFDList: func(c *Command, v lua.LValue) (string, bool) {
		t, ok := v.(*lua.LTable)
		if !ok {
			return "", false
		}
		var fds []string
		for i := 1; i <= t.Len(); i++ {
			fds = append(fds, t.RawGetInt(i).String())
		}
		if len(fds) == 0 {
			return "none ready", true
		}
		return strings.Join(fds, " "), true
	},
}

// data prints received bytes as a quoted string, long data summarised
// unless -a.
func (c *Command) data(d string) string {
	if len(d) > longData && !c.all {
		return fmt.Sprintf("%s... (%d bytes in all: _ holds them; -a prints all, -x a hexdump)", Quote(d[:256]), len(d))
	}
	return Quote(d)
}

// descriptorTable is rows as the descriptor table, with a header row, without
// its last newline.
func descriptorTable(rows []sock.Info) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	header := "FD\tDOMAIN\tTYPE\tSTATE\tTCP\tLOCAL\tREMOTE\tSENT\tRECV\tRECVQ\tSENDQ"
	withTLS := slices.ContainsFunc(rows, func(in sock.Info) bool { return in.TLSVersion != "" })
	if withTLS { // a column only when some descriptor speaks TLS
		header += "\tTLS"
	}
	withHost := slices.ContainsFunc(rows, func(in sock.Info) bool { return in.Host != "" })
	if withHost { // a column only in a lab
		header += "\tHOST"
	}
	fmt.Fprintln(tw, header)
	for _, in := range rows {
		dash := func(s string) string {
			if s == "" {
				return "-"
			}
			return QuoteAddr(s)
		}
		recvq := strconv.Itoa(in.RecvQ)
		if in.Buffered > 0 {
			recvq += "+" + strconv.Itoa(in.Buffered)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d", in.FD, in.Domain, in.Type, in.State,
			dash(in.TCPState), dash(in.Local), dash(in.Remote), in.Sent, in.Received, recvq, in.SendQ)
		if withTLS {
			fmt.Fprintf(tw, "\t%s", tlsCell(in))
		}
		if withHost {
			fmt.Fprintf(tw, "\t%s", cmp.Or(in.Host, "-"))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// taskTable is the tasks listing, without its last newline.
func taskTable(list *lua.LTable) string {
	if list.Len() == 0 {
		return "no tasks"
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tNAME\tSTATE")
	for i := 1; i <= list.Len(); i++ {
		t, ok := list.RawGetInt(i).(*lua.LTable)
		if !ok {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.RawGetString("id"), Printable(t.RawGetString("name").String()), Printable(t.RawGetString("state").String()))
	}
	tw.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// SpawnCommand starts the call a command line makes as a task named after
// the line.
func (rt *Runtime) SpawnCommand(line string, c *Command) *Task {
	if rt.dispatch == nil {
		fn, err := rt.Load("local name = ... return _G[name](select(2, ...))", "=dispatch")
		if err != nil {
			panic(err) // a constant chunk
		}
		rt.dispatch = fn
	}
	args := append([]lua.LValue{lua.LString(c.Spec.Name)}, c.Args...)
	if c.hex && c.Spec.hexWord {
		args = append(args, lua.LString("hex"))
	}
	return rt.Spawn(line, rt.dispatch, args...)
}

// LoadExpr compiles a line typed at the shell as an expression list whose
// values are counted: the function it returns, run with args, returns the
// number of values, then them — so that a nil prints as nil and a call
// returning nothing prints nothing. It fails if the line is not an
// expression (a statement, or bad Lua: compile it with Load to know).
func (rt *Runtime) LoadExpr(chunk, name string) (fn *lua.LFunction, args []lua.LValue, err error) {
	if _, err := rt.Load("return "+chunk, name); err != nil {
		return nil, nil, err
	}
	if rt.counter == nil {
		rt.counter = rt.function("return function(...) return select('#', ...), ... end")
	}
	// The chunk's own line numbers are kept: it starts on line 1 and the
	// closing bracket is on a line of its own, after any comment.
	fn, err = rt.Load("local count = ... return count("+chunk+"\n)", name)
	return fn, []lua.LValue{rt.counter}, err
}

// SetLast sets _, the last result, which `hexdump _` and Lua lines read.
func (rt *Runtime) SetLast(v lua.LValue) { rt.ls.SetGlobal("_", v) }

// Global returns a global variable of the session's Lua state.
func (rt *Runtime) Global(name string) lua.LValue { return rt.ls.GetGlobal(name) }

// FDs returns the session's open descriptors, in order.
func (rt *Runtime) FDs() []int { return rt.table.FDs() }

// tlsCell is the TLS column of a row: version, cipher suite, ALPN's
// choice and the peer certificate's subject (quoted where it needs it:
// the peer chose it), or - for a plain socket.
func tlsCell(in sock.Info) string {
	if in.TLSVersion == "" {
		return "-"
	}
	parts := []string{strings.ReplaceAll(in.TLSVersion, " ", ""), in.TLSCipher}
	if in.TLSALPN != "" {
		parts = append(parts, "alpn="+QuoteAddr(in.TLSALPN))
	}
	if in.TLSPeer != "" {
		parts = append(parts, "peer="+QuoteAddr(in.TLSPeer))
	}
	return strings.Join(parts, " ")
}
