package luaapi

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"sockshell/record"
)

// Kind is what a parameter or result is: record's one list of kinds. The
// shell parses words by it, completes by it and prints results by it; the
// recorder learns from it which values are descriptors, data or addresses.
type Kind = record.Kind

const (
	KFD       = record.FD          // a descriptor number
	KDomain   = record.Domain      // inet | inet6 | unix
	KType     = record.Type        // stream | dgram
	KAddr     = record.Addr        // host:port, [v6]:port, /path, unix:rel, @name
	KData     = record.Data        // bytes: a bare word, "quoted\n" or hex:414243
	KInt      = record.Int         // an integer
	KSeconds  = record.Seconds     // seconds (2, 0.5) or a duration (250ms)
	KHow      = record.How         // rd | wr | rdwr
	KOption   = record.Option      // a socket option name
	KValue    = record.OptValue    // an option value: on|off or an integer
	KOnOff    = record.OnOff       // on | off
	KHeader   = record.FrameHeader // a frame header kind
	KName     = record.Name        // a word: a command name, a file, a mode
	KFDList   = record.FDList      // {fd, ...}
	KTask     = record.Task        // a task
	KFunc     = record.Func        // a Lua function
	KAny      = record.Any         // any Lua value
	KOK       = record.OK          // the result true, printed "ok"
	KTable    = record.Table       // a table result
	KBool     = record.Bool        // a boolean result
	KNum      = record.Num         // a number result
	KString   = record.Text        // a string result printed as it is
	KRest     = record.Rest        // any number of further values
	KChunk    = record.Chunk       // received data, "" at end of stream (printed eof)
	KWhole    = record.Whole       // a datagram's whole length when cut short
	KInfo     = record.Info        // a descriptor's row of the table
	KInfoList = record.InfoList    // the descriptor table
	KTaskList = record.TaskList    // the tasks listing
	KCommand  = record.Command     // a command's name
)

// Param is one parameter of an operation.
type Param struct {
	Name     string
	Kind     Kind
	Optional bool
}

// Spec declares one operation once: its Lua function, its shell command, its
// help line and its completion all come from here.
type Spec struct {
	Name    string
	Params  []Param
	Results []Kind
	Doc     string
	// Returns says in words what a call gives back, for help and the README.
	Returns string
	run     func(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq)
	// fast, if set, makes the Lua function from the generic one: a faster
	// path for the common call, falling back on it for the rest.
	fast func(rt *Runtime, slow lua.LGFunction) lua.LGFunction
	// recorded operations are reported to the recorder, which writes each
	// one it is given as a statement of the recording: the operations that
	// change or check the session, not those that only look (info, poll).
	recorded bool
	// checked operations raise under strict(true) when they fail.
	checked bool
	// hexWord passes the shell's -x on to the function as the word "hex".
	hexWord bool
}

// Usage is the command's synopsis in the shell's syntax.
func (s *Spec) Usage() string {
	var b strings.Builder
	b.WriteString(s.Name)
	for _, p := range s.Params {
		name := strings.ToUpper(p.Name)
		if p.Kind == KRest {
			name += "..."
		}
		if p.Optional {
			fmt.Fprintf(&b, " [%s]", name)
		} else {
			fmt.Fprintf(&b, " %s", name)
		}
	}
	return b.String()
}

// Lookup finds an operation by name.
func Lookup(name string) (*Spec, bool) {
	s, ok := specIndex[name]
	return s, ok
}

func p(name string, k Kind) Param        { return Param{Name: name, Kind: k} }
func opt(name string, k Kind) Param      { return Param{Name: name, Kind: k, Optional: true} }
func results(ks ...Kind) []Kind          { return ks }
func params(ps ...Param) []Param         { return ps }
func vals(vs ...lua.LValue) []lua.LValue { return vs }

// wrap makes the Lua function of s: run it, and either push its results or
// wait (yielding to the scheduler inside a task) and retry.
func (rt *Runtime) wrap(s *Spec) lua.LGFunction {
	return func(L *lua.LState) int {
		defer rt.recoverOp(L, s.Name)
		if rt.wire != nil {
			rt.wireBefore(L, s)
		}
		var at time.Duration
		if rt.lad.on && s.onLadder() {
			at = time.Since(rt.start)
		}
		res, w := s.run(rt, L)
		own := rt.reported // the call reports to the recorder itself
		rt.reported = false
		if len(s.Results) == 1 && s.Results[0] == KString && len(res) == 1 {
			if text, ok := res[0].(lua.LString); ok && strings.Contains(string(text), "\n") {
				rt.text = text
			}
		}
		if w == nil {
			if at != 0 {
				rt.ladderCall(s, ladderArgs(L, s, at), res)
			}
			if rt.rec != nil && s.recorded && !own {
				rt.emit(s, rt.s.cur, rt.snapshot(L, s), res)
			}
			if rt.wire != nil {
				rt.wireAfter(s)
			}
			return push(L, res)
		}
		if rt.rec != nil && s.recorded && !own {
			args, cur := rt.snapshot(L, s), rt.s.cur
			w.observe = func(res []lua.LValue) { rt.emit(s, cur, args, res) }
		}
		if at != 0 {
			args := rt.ladderWaits(L, s, at)
			w.then(func(res []lua.LValue) { rt.ladderCall(s, args, res) })
		}
		if rt.wire != nil {
			w.then(func([]lua.LValue) { rt.wireAfter(s) })
		}
		return rt.block(L, w)
	}
}

// then adds f to what observes w's results, after what is there.
func (w *waitReq) then(f func(res []lua.LValue)) {
	observe := w.observe
	w.observe = func(res []lua.LValue) {
		if observe != nil {
			observe(res)
		}
		f(res)
	}
}

// recoverOp turns a panic inside an operation into a Lua error naming it.
func (rt *Runtime) recoverOp(L *lua.LState, op string) {
	if r := recover(); r != nil {
		if _, ok := r.(*lua.ApiError); ok {
			panic(r) // a Lua error raised on purpose
		}
		raise(L, "%s: internal error: %v", op, r)
	}
}

// block makes the running call wait for w. Inside a task it yields to the
// scheduler, which retries the call when it can go on; outside any task it
// waits right here.
func (rt *Runtime) block(L *lua.LState, w *waitReq) int {
	if t := rt.s.cur; t != nil {
		if nret, ok := yieldInfo(L); ok {
			w.nret = nret
			t.wait = w
			return L.Yield(rt.marker)
		}
	}
	res := rt.waitHere(w)
	if w.observe != nil {
		w.observe(res)
	}
	return push(L, res)
}

// push pushes a Go function's results and returns their number.
func push(L *lua.LState, res []lua.LValue) int {
	for _, v := range res {
		L.Push(v)
	}
	return len(res)
}

// snapshot copies the arguments of the running call for the recorder.
func (rt *Runtime) snapshot(L *lua.LState, s *Spec) []record.Value {
	n := L.GetTop()
	vs := make([]record.Value, 0, n)
	for i := 1; i <= n; i++ {
		k := KAny
		if i-1 < len(s.Params) {
			k = s.Params[i-1].Kind
		}
		vs = append(vs, rt.recordValue(k, L.Get(i)))
	}
	return vs
}

func (rt *Runtime) emit(s *Spec, t *Task, args []record.Value, res []lua.LValue) {
	ev := record.Event{Op: s.Name, Args: args, At: time.Since(rt.start)}
	if t != nil && t.report {
		ev.Task = t.ID // a spawned task; the main task and shell lines are 0
	}
	if len(res) >= 3 && res[0] == lua.LNil {
		ev.Code, ev.Msg = res[2].String(), res[1].String()
	} else {
		for i, v := range res {
			k := KAny
			if i < len(s.Results) {
				k = s.Results[i]
			}
			ev.Results = append(ev.Results, rt.recordValue(k, v))
		}
	}
	if err := rt.rec.Write(ev); err != nil {
		fmt.Fprintf(rt.err, "record: %v (recording stopped)\n", err)
		rt.rec = nil
	}
}

// recordValue is recordValue with what the runtime knows: the list that
// workers returned is recorded, as a task is, by the number of its task,
// and a list of descriptors as their numbers.
func (rt *Runtime) recordValue(k Kind, v lua.LValue) record.Value {
	if t, ok := v.(*lua.LTable); ok {
		if task, _, ok := rt.workerHandle(t); ok {
			return record.Value{Kind: record.Int, V: task.ID}
		}
		if k == KFDList {
			var fds []int
			for i := 1; i <= t.Len(); i++ {
				if n, ok := t.RawGetInt(i).(lua.LNumber); ok {
					fds = append(fds, int(n))
				}
			}
			return record.Value{Kind: record.FDList, V: fds}
		}
	}
	return recordValue(k, v)
}

func recordValue(k Kind, v lua.LValue) record.Value {
	kind := k
	switch k {
	case KFD, KData, KAddr, KInt, KNum, KBool, KTable:
	case KChunk:
		kind = record.Data
	case KWhole:
		kind = record.Int
	case KSeconds:
		kind = record.Num
	case KOK, KOnOff:
		kind = record.Bool
	case KFDList, KTask, KFunc, KInfo, KInfoList, KTaskList:
		kind = record.Table
	default:
		kind = record.Str
	}
	switch x := v.(type) {
	case lua.LNumber:
		if kind == record.FD || kind == record.Int {
			return record.Value{Kind: kind, V: int(x)}
		}
		if kind == record.Str || kind == record.Bool {
			kind = record.Num
		}
		return record.Value{Kind: kind, V: float64(x)}
	case lua.LString:
		if kind == record.FD || kind == record.Int || kind == record.Num || kind == record.Bool {
			kind = record.Str
		}
		return record.Value{Kind: kind, V: string(x)}
	case lua.LBool:
		return record.Value{Kind: record.Bool, V: bool(x)}
	case *lua.LNilType:
		return record.Value{Kind: record.Nil}
	case *lua.LUserData:
		if t, ok := x.Value.(*Task); ok { // a task is recorded by its number
			return record.Value{Kind: record.Int, V: t.ID}
		}
	}
	return record.Value{Kind: record.Table}
}

// Argument checks. A wrong type of argument is a programming error in the
// script: it raises, naming the operation and what was expected.

// raise raises a Lua error located at the Lua code that made the call,
// past any frames of the prelude: a function handed to pcall is called
// from the prelude, whose lines mean nothing to the user.
func raise(L *lua.LState, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for level := 0; ; level++ {
		w := L.Where(level)
		if w == "" {
			break
		}
		if !strings.HasPrefix(w, "[G]") && !strings.HasPrefix(w, "=prelude:") {
			msg = w + " " + msg
			break
		}
	}
	L.Error(lua.LString(msg), 0)
}

func argError(L *lua.LState, op string, n int, want string) {
	raise(L, "%s: EINVAL: bad argument #%d: expected %s, got %s", op, n, want, describe(L.Get(n)))
}

func describe(v lua.LValue) string {
	if v == nil {
		return "nothing"
	}
	switch v.Type() {
	case lua.LTString:
		s := string(v.(lua.LString))
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return strconv.Quote(s)
	case lua.LTNumber:
		return v.String()
	}
	return v.Type().String()
}

func checkFD(L *lua.LState, op string, n int) int {
	if x, ok := L.Get(n).(lua.LNumber); ok && float64(x) == float64(int(x)) {
		return int(x)
	}
	argError(L, op, n, "a descriptor number")
	return 0
}

func checkString(L *lua.LState, op string, n int, want string) string {
	switch x := L.Get(n).(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return x.String()
	}
	argError(L, op, n, want)
	return ""
}

func optString(L *lua.LState, op string, n int, want, def string) string {
	if L.Get(n) == lua.LNil {
		return def
	}
	return checkString(L, op, n, want)
}

func checkInt(L *lua.LState, op string, n int, want string) int {
	switch x := L.Get(n).(type) {
	case lua.LNumber:
		if float64(x) == float64(int(x)) {
			return int(x)
		}
	case lua.LString:
		if i, err := strconv.Atoi(strings.TrimSpace(string(x))); err == nil {
			return i
		}
	}
	argError(L, op, n, want)
	return 0
}

func optInt(L *lua.LState, op string, n int, want string, def int) int {
	if L.Get(n) == lua.LNil {
		return def
	}
	return checkInt(L, op, n, want)
}

// ParseSeconds parses a timeout: seconds ("2", "0.5") or a Go duration
// ("250ms", "1m").
func ParseSeconds(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f < 1e9 {
		return time.Duration(f * float64(time.Second)), true
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, true
	}
	return 0, false
}

// optTimeout reads an optional timeout; -1 when absent.
func optTimeout(L *lua.LState, op string, n int) time.Duration {
	switch x := L.Get(n).(type) {
	case *lua.LNilType:
		return -1
	case lua.LNumber:
		if x >= 0 && x < 1e9 {
			return time.Duration(float64(x) * float64(time.Second))
		}
	case lua.LString:
		if d, ok := ParseSeconds(string(x)); ok {
			return d
		}
	}
	argError(L, op, n, "a timeout in seconds (2, 0.5) or a duration (250ms)")
	return 0
}

func checkBool(L *lua.LState, op string, n int) bool {
	switch x := L.Get(n).(type) {
	case lua.LBool:
		return bool(x)
	case lua.LNumber:
		return x != 0
	case lua.LString:
		switch strings.ToLower(string(x)) {
		case "on", "true", "yes", "1":
			return true
		case "off", "false", "no", "0":
			return false
		}
	}
	argError(L, op, n, "on or off")
	return false
}
