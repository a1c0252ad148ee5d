package repl

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/luaapi"
	"sockshell/sock"
)

// display holds the output flags a command line may carry after the
// command name: -x shows data as a hexdump, -a shows long data in full.
type display struct{ hex, all bool }

// longData is how many bytes of received data the shell prints before it
// summarises the rest.
const longData = 1024

// Command is a parsed command line: the operation and its arguments as Lua
// values.
type Command struct {
	Spec *luaapi.Spec
	Args []lua.LValue
	show display
}

// usageError is an EINVAL in the shell's error format.
func usageError(s *luaapi.Spec, format string, args ...any) error {
	return &sock.Error{Op: s.Name, FD: -1, Err: unix.EINVAL, Detail: fmt.Sprintf(format, args...) + "; usage: " + s.Usage()}
}

// ParseCommand turns the words of a command line into a call of the
// operation named by the first word, converting each word by the kind of
// its parameter.
func ParseCommand(L *lua.LState, words []Word) (*Command, error) {
	s, ok := luaapi.Lookup(words[0].Text)
	if !ok {
		return nil, fmt.Errorf("no command %q", words[0].Text)
	}
	c := &Command{Spec: s}
	rest := words[1:]
	for len(rest) > 0 && !rest[0].Quoted && (rest[0].Text == "-x" || rest[0].Text == "-a") {
		if rest[0].Text == "-x" {
			c.show.hex = true
		} else {
			c.show.all = true
		}
		rest = rest[1:]
	}
	for i, prm := range s.Params {
		if prm.Kind == luaapi.KRest {
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
		v, err := convert(L, s, prm, rest[i])
		if err != nil {
			return nil, err
		}
		c.Args = append(c.Args, v)
	}
	if len(rest) > len(s.Params) {
		return nil, usageError(s, "too many arguments (%q is one too many)", rest[len(s.Params)].Text)
	}
	return c, nil
}

func convert(L *lua.LState, s *luaapi.Spec, prm luaapi.Param, w Word) (lua.LValue, error) {
	name := strings.ToUpper(prm.Name)
	t := w.Text
	bad := func(want string) error { return usageError(s, "bad %s %q: expected %s", name, t, want) }
	switch prm.Kind {
	case luaapi.KFD:
		n, err := strconv.Atoi(t)
		if err != nil || w.Quoted {
			return nil, bad("a descriptor number")
		}
		return lua.LNumber(n), nil
	case luaapi.KInt:
		n, err := strconv.Atoi(t)
		if err != nil || w.Quoted {
			return nil, bad("a whole number")
		}
		return lua.LNumber(n), nil
	case luaapi.KTask:
		n, err := strconv.Atoi(t)
		if err != nil || w.Quoted {
			return nil, bad("a task number (see tasks)")
		}
		return lua.LNumber(n), nil
	case luaapi.KSeconds:
		if t == "off" {
			return lua.LString(t), nil
		}
		if n, err := strconv.ParseFloat(t, 64); err == nil && n < 0 {
			return lua.LNumber(n), nil // settimeout FD -1: back to the default
		}
		d, ok := luaapi.ParseSeconds(t)
		if !ok {
			return nil, bad("seconds (2, 0.5) or a duration (250ms)")
		}
		return lua.LNumber(d.Seconds()), nil
	case luaapi.KOnOff:
		switch t {
		case "on", "true", "1":
			return lua.LTrue, nil
		case "off", "false", "0":
			return lua.LFalse, nil
		}
		return nil, bad("on or off")
	case luaapi.KValue:
		switch t {
		case "on", "true":
			return lua.LTrue, nil
		case "off", "false":
			return lua.LFalse, nil
		}
		if n, err := strconv.Atoi(t); err == nil {
			return lua.LNumber(n), nil
		}
		return nil, bad("on, off or a number")
	case luaapi.KFDList:
		list := L.NewTable()
		for _, f := range strings.Split(t, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return nil, bad("descriptors separated by commas (3,4)")
			}
			list.Append(lua.LNumber(n))
		}
		return list, nil
	case luaapi.KData:
		if t == "_" && !w.Quoted { // the last result: hexdump _
			return L.GetGlobal("_"), nil
		}
	case luaapi.KFunc:
		return nil, usageError(s, "%s needs a Lua function: write it as Lua, e.g. %s(function() ... end)", s.Name, s.Name)
	}
	return lua.LString(t), nil
}

// printResults prints what a command returned, by the kinds of its results.
// Nothing a peer chose reaches the terminal as it is: data and addresses
// are quoted when they need it, messages escaped (luaapi.Printable).
func printResults(w, errw io.Writer, c *Command, res []lua.LValue) {
	s := c.Spec
	if len(res) >= 3 && res[0] == lua.LNil {
		fmt.Fprintf(errw, "error: %s\n", luaapi.Printable(res[1].String()))
		return
	}
	if len(res) == 0 || len(s.Results) == 0 { // help prints its own text
		return
	}
	if c.show.hex {
		if d, ok := res[0].(lua.LString); ok && len(s.Results) > 0 && s.Results[0] == luaapi.KData {
			io.WriteString(w, luaapi.Hexdump(string(d)))
			if len(res) > 1 && len(s.Results) > 1 {
				fmt.Fprintln(w, format(s, s.Results[1], res[1], false))
			}
			return
		}
	}
	switch s.Name {
	case "fds":
		if t, ok := res[0].(*lua.LTable); ok {
			var rows []sock.Info
			for i := 1; i <= t.Len(); i++ {
				if row, ok := t.RawGetInt(i).(*lua.LTable); ok {
					rows = append(rows, luaapi.InfoFromTable(row))
				}
			}
			printTable(w, rows)
			return
		}
	case "info":
		if t, ok := res[0].(*lua.LTable); ok {
			printTable(w, []sock.Info{luaapi.InfoFromTable(t)})
			return
		}
	case "tasks":
		if t, ok := res[0].(*lua.LTable); ok {
			printTasks(w, t)
			return
		}
	case "recvfrom":
		if len(res) == 3 { // MAX cut the datagram short
			fmt.Fprintf(w, "%s %s (cut short: the datagram had %s bytes)\n", format(s, luaapi.KData, res[0], c.show.all),
				format(s, luaapi.KAddr, res[1], false), luaapi.Show(res[2]))
			return
		}
	case "poll":
		if t, ok := res[0].(*lua.LTable); ok {
			var fds []string
			for i := 1; i <= t.Len(); i++ {
				fds = append(fds, t.RawGetInt(i).String())
			}
			if len(fds) == 0 {
				fmt.Fprintln(w, "none ready")
			} else {
				fmt.Fprintln(w, strings.Join(fds, " "))
			}
			return
		}
	}
	var parts []string
	for i, v := range res {
		k := luaapi.KAny
		if i < len(s.Results) {
			k = s.Results[i]
		}
		parts = append(parts, format(s, k, v, c.show.all))
	}
	fmt.Fprintln(w, strings.Join(parts, " "))
}

func format(s *luaapi.Spec, k luaapi.Kind, v lua.LValue, all bool) string {
	switch k {
	case luaapi.KOK:
		if v == lua.LTrue {
			return "ok"
		}
	case luaapi.KData:
		d, ok := v.(lua.LString)
		if !ok {
			break
		}
		if d == "" && (s.Name == "recv" || s.Name == "recvfrom") {
			return "eof"
		}
		if len(d) > longData && !all {
			return fmt.Sprintf("%s... (%d bytes in all: _ holds them; -a prints all, -x a hexdump)", luaapi.Quote(string(d[:256])), len(d))
		}
		return luaapi.Quote(string(d))
	case luaapi.KAddr, luaapi.KString:
		if str, ok := v.(lua.LString); ok {
			if k == luaapi.KAddr {
				if str == "" {
					return "(unnamed)"
				}
				return luaapi.QuoteAddr(string(str))
			}
			lines := strings.Split(strings.TrimSuffix(string(str), "\n"), "\n") // a hexdump ends its last line
			for i, l := range lines {
				lines[i] = luaapi.Printable(l)
			}
			return strings.Join(lines, "\n")
		}
	case luaapi.KAny:
		if b, ok := v.(lua.LBool); ok {
			if b {
				return "on"
			}
			return "off"
		}
	}
	return luaapi.Show(v)
}

// printTable prints rows as the descriptor table, with a header row.
func printTable(w io.Writer, rows []sock.Info) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FD\tDOMAIN\tTYPE\tSTATE\tTCP\tLOCAL\tREMOTE\tSENT\tRECV\tRECVQ\tSENDQ")
	for _, in := range rows {
		dash := func(s string) string {
			if s == "" {
				return "-"
			}
			return luaapi.QuoteAddr(s)
		}
		recvq := strconv.Itoa(in.RecvQ)
		if in.Buffered > 0 {
			recvq += "+" + strconv.Itoa(in.Buffered)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d\n", in.FD, in.Domain, in.Type, in.State,
			dash(in.TCPState), dash(in.Local), dash(in.Remote), in.Sent, in.Received, recvq, in.SendQ)
	}
	tw.Flush()
}

func printTasks(w io.Writer, list *lua.LTable) {
	if list.Len() == 0 {
		fmt.Fprintln(w, "no tasks")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tNAME\tSTATE")
	for i := 1; i <= list.Len(); i++ {
		t, ok := list.RawGetInt(i).(*lua.LTable)
		if !ok {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.RawGetString("id"), luaapi.Printable(t.RawGetString("name").String()), luaapi.Printable(t.RawGetString("state").String()))
	}
	tw.Flush()
}
