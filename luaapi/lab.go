package luaapi

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"sockshell/internal/lowfd"
	"sockshell/lab"
	"sockshell/record"
	"sockshell/sock"
)

var labOps = []*Spec{
	{Name: "lab", Params: params(opt("settings", KRest)), Results: results(KString),
		Doc: "SETTINGS (a table, or words as --lab takes them): build the lab, hosts a (198.18.0.1) and b (198.18.0.2) joined by a link sockshell carries, with delay, jitter, loss, dup, reorder, rate, queue and seed, for both directions or a2b={...}/b2a={...}; in a lab, change them; none: show them (needs root)", Returns: "the link's settings and counters",
		checked: true, run: runLab},
	{Name: "host", Params: params(opt("name", KName)), Results: results(KString),
		Doc: "NAME a or b: make the next sockets on that host of the lab; local: in the session's own network namespace; none: say which", Returns: "the host the next sockets are made on",
		checked: true, recorded: true, run: runHost},
	{Name: "drop", Params: params(p("dir", KName), opt("n", KInt)), Results: results(KOK),
		Doc: "the lab's link drops the next N (1) packets carrying data in DIR, a2b or b2a (0: none)", Returns: "true",
		checked: true, recorded: true, run: runDrop},
}

// labState is the session's lab: the link, what it was told, and the host
// the next sockets are made on ("" for the session's own namespace).
type labState struct {
	link *lab.Link
	cfg  lab.Config
	host string
}

// hosts names the lab's hosts, in lab.Link.Host's order.
var hosts = []string{"a", "b"}

var errNoLab = &sock.Error{Op: "host", FD: -1, Err: unix.EINVAL, Detail: "no lab: build one first with lab{...} or --lab"}

func runLab(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	cfg := lab.NewConfig()
	if rt.lab != nil {
		cfg = rt.lab.cfg
	}
	if L.GetTop() == 0 {
		if rt.lab == nil {
			return failure(&sock.Error{Op: "lab", FD: -1, Err: unix.EINVAL, Detail: "no lab: lab{...} or lab(\"delay 100ms\") builds one"}), nil
		}
		return rt.ret1(lua.LString(rt.labText())), nil
	}
	var err error
	if t, ok := L.Get(1).(*lua.LTable); ok {
		err = labTable(&cfg, t)
	} else {
		var words []string
		for i := 1; i <= L.GetTop(); i++ {
			words = append(words, checkString(L, "lab", i, "a table of settings or words (delay 100ms loss 5%)"))
		}
		err = cfg.Apply(strings.Join(words, " "))
	}
	if err != nil {
		return failure(&sock.Error{Op: "lab", FD: -1, Err: unix.EINVAL, Detail: err.Error()}), nil
	}
	if err := rt.SetLab(cfg); err != nil {
		return failure(err), nil
	}
	rt.reported = true // by SetLab
	return rt.ret1(lua.LString(rt.labText())), nil
}

// labTable applies a Lua table of settings: the keys for both directions
// first, then those of a2b and b2a.
func labTable(cfg *lab.Config, t *lua.LTable) error {
	var err error
	set := func(d *lab.Dir, k, v lua.LValue) {
		if err != nil {
			return
		}
		key, ok := k.(lua.LString)
		if !ok {
			err = fmt.Errorf("bad key %s: expected %s", k, lab.Keys)
			return
		}
		switch v := v.(type) {
		case lua.LNumber:
			err = cfg.Set(d, string(key), strconv.FormatFloat(float64(v), 'g', -1, 64))
		case lua.LString:
			err = cfg.Set(d, string(key), string(v))
		default:
			err = fmt.Errorf("bad %s: expected a number or a string, got %s", key, v.Type())
		}
	}
	t.ForEach(func(k, v lua.LValue) {
		if k == lua.LString("a2b") || k == lua.LString("b2a") {
			if _, ok := v.(*lua.LTable); !ok && err == nil {
				err = fmt.Errorf("bad %s: expected a table of settings for that direction", k)
			}
			return
		}
		set(nil, k, v)
	})
	for _, d := range []lab.Dir{lab.A2B, lab.B2A} {
		if sub, ok := t.RawGetString(d.String()).(*lua.LTable); ok {
			sub.ForEach(func(k, v lua.LValue) {
				if k == lua.LString("seed") && err == nil {
					err = fmt.Errorf("bad seed in %s: the seed is the whole link's", d)
				}
				set(&d, k, v)
			})
		}
	}
	return err
}

// SetLab builds the lab with cfg, or changes its settings if it is built.
// The first build makes host a the one the next sockets are made on. A
// recording gets it as a call of lab in words, whether it came from Lua,
// the shell or --lab.
func (rt *Runtime) SetLab(cfg lab.Config) error {
	if err := rt.setLab(cfg); err != nil {
		return err
	}
	if rt.rec != nil {
		rt.emit(specIndex["lab"], rt.s.cur, []record.Value{{Kind: record.Str, V: cfg.String()}}, nil)
	}
	return nil
}

func (rt *Runtime) setLab(cfg lab.Config) error {
	if rt.lab != nil {
		rt.lab.link.Set(cfg)
		rt.lab.cfg = cfg
		return nil
	}
	lowfd.ReservePoller() // the link's devices wait in Go's poller
	l, err := lab.New(cfg, lowfd.Private)
	if errors.Is(err, lab.ErrPermission) {
		return &sock.Error{Op: "lab", FD: -1, Err: unix.EPERM, Detail: lab.ErrPermission.Error()}
	}
	if err != nil {
		return &sock.Error{Op: "lab", FD: -1, Err: errnoOf(err), Detail: err.Error()}
	}
	rt.lab = &labState{link: l, cfg: cfg}
	// sockshell runs Go on one processor (cmd/sockshell's singleProc);
	// the link's goroutines get one of their own beside the scheduler's.
	// A bulk transfer over the link: 245 Mbit/s on one, 369 on two.
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
	rt.setHost("a")
	if rt.wire != nil {
		rt.wireLab()
	}
	return nil
}

// setHost makes the next sockets on host name ("" for the session's own
// namespace).
func (rt *Runtime) setHost(name string) {
	rt.lab.host = name
	rt.table.Host = name
	rt.table.Make = nil
	for i, h := range hosts {
		if h == name {
			rt.table.Make = rt.lab.link.Host(i).Socket
		}
	}
}

// labText is the link's settings and each direction's counters.
func (rt *Runtime) labText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lab: a %s, b %s, %s; the next sockets on %s", lab.AddrA, lab.AddrB, rt.lab.cfg, hostName(rt.lab.host))
	for _, d := range []lab.Dir{lab.A2B, lab.B2A} {
		st := rt.lab.link.Stats(d)
		fmt.Fprintf(&b, "\n%s: %d packets %d bytes, delivered %d, lost %d, dropped %d, queue full %d, duplicated %d, reordered %d",
			d, st.Packets, st.Bytes, st.Delivered, st.Lost, st.Dropped, st.QueueFull, st.Duplicated, st.Reordered)
	}
	return b.String()
}

func hostName(h string) string {
	if h == "" {
		return "local"
	}
	return h
}

func runHost(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	if L.Get(1) == lua.LNil {
		h := ""
		if rt.lab != nil {
			h = rt.lab.host
		}
		return rt.ret1(lua.LString(hostName(h))), nil
	}
	name := checkString(L, "host", 1, "a host: a, b or local")
	switch {
	case name != "a" && name != "b" && name != "local":
		return failure(&sock.Error{Op: "host", FD: -1, Addr: name, Err: unix.EINVAL, Detail: "expected a host: a, b or local"}), nil
	case rt.lab == nil && name != "local":
		return failure(errNoLab), nil
	case rt.lab != nil:
		rt.setHost(strings.TrimPrefix(name, "local"))
	}
	return rt.ret1(lua.LString(name)), nil
}

func runDrop(rt *Runtime, L *lua.LState) ([]lua.LValue, *waitReq) {
	dir := checkString(L, "drop", 1, "a direction: a2b or b2a")
	n := optInt(L, "drop", 2, "a number of packets", 1)
	d := lab.A2B
	switch {
	case dir == "b2a":
		d = lab.B2A
	case dir != "a2b":
		return failure(&sock.Error{Op: "drop", FD: -1, Addr: dir, Err: unix.EINVAL, Detail: "expected a direction: a2b or b2a"}), nil
	}
	if n < 0 {
		return failure(&sock.Error{Op: "drop", FD: -1, Err: unix.EINVAL, Detail: "expected a number of packets, 0 or more"}), nil
	}
	if rt.lab == nil {
		return failure(&sock.Error{Op: "drop", FD: -1, Err: unix.EINVAL, Detail: errNoLab.Detail}), nil
	}
	rt.lab.link.Drop(d, n)
	return rt.ret1(lua.LTrue), nil
}

// labNotify is the eventfd the lab's link makes readable when it has
// packets for the wire, -1 without a lab.
func (rt *Runtime) labNotify() int {
	if rt.lab == nil {
		return -1
	}
	return rt.lab.link.NotifyFD()
}

// closeLab takes the lab down: its namespaces and devices go with it.
func (rt *Runtime) closeLab() {
	if rt.lab == nil {
		return
	}
	rt.lab.link.Close()
	rt.lab = nil
	rt.table.Make, rt.table.Host = nil, ""
}
