package luaapi

import (
	"reflect"
	"runtime"
	"sync"

	lua "github.com/yuin/gopher-lua"
)

// gopher-lua keeps its call frames to itself; two things the scheduler must
// know are in them. They are read by reflection from the Debug record that
// LState.GetStack returns (its unexported field frame), pinned to
// gopher-lua v1.1.2 and tested by the scheduler's tests.

// frameFields holds the indices of the call frame's fields read here, found
// once: looking a field up by name allocates.
var frameFields = sync.OnceValue(func() (f struct{ frame, fn, parent, nret int }) {
	frame, ok := reflect.TypeOf(lua.Debug{}).FieldByName("frame")
	if !ok || frame.Type.Kind() != reflect.Pointer {
		return f
	}
	f.frame = frame.Index[0]
	t := frame.Type.Elem()
	for name, dst := range map[string]*int{"Fn": &f.fn, "Parent": &f.parent, "NRet": &f.nret} {
		if sf, ok := t.FieldByName(name); ok {
			*dst = sf.Index[0]
		}
	}
	return f
})

// frameAt returns the call frame behind the pointer v (a *callFrame), or
// false for nil.
func frameAt(v reflect.Value) (reflect.Value, bool) {
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return reflect.Value{}, false
	}
	return reflect.NewAt(v.Type().Elem(), v.UnsafePointer()).Elem(), true
}

// yieldInfo reports how many results the caller of the running Go function
// asked for (-1 for all of them) and whether that function may yield.
//
// gopher-lua does not adjust the values a yielded Go function is resumed
// with to the number asked for (missing ones would be Go nils, which crash
// the VM), so the scheduler does it. And a Go function may not yield when a
// Go function below it on the stack called Lua (table.sort's comparator, a
// metamethod, a loader): gopher-lua cannot resume through a Go frame. Such
// a call waits where it is instead, holding up the other tasks but never
// the process.
func yieldInfo(L *lua.LState) (nret int, canYield bool) {
	dbg, ok := L.GetStack(0)
	if !ok {
		return -1, true
	}
	ff := frameFields()
	if ff.fn == ff.parent { // fields not found: a gopher-lua this code does not know
		return -1, true
	}
	frame, ok := frameAt(reflect.ValueOf(dbg).Elem().Field(ff.frame))
	if !ok {
		return -1, true
	}
	nret = -1
	if v := frame.Field(ff.nret); v.Kind() == reflect.Int {
		nret = int(v.Int())
	}
	for {
		frame, ok = frameAt(frame.Field(ff.parent))
		if !ok {
			return nret, true
		}
		if fn, ok := frame.Field(ff.fn).Interface().(*lua.LFunction); ok && fn != nil && fn.IsG {
			return nret, false
		}
	}
}

// nestedLoop reports whether the running Go function was reached through a
// Lua call that a Go frame of gopher-lua's made on its own — a metamethod
// (__index, __eq, __concat, ...) or an iterator called by the VM. The
// call-frame chain does not show it, but the Go stack does: such a call
// runs a second interpreter loop above the one the coroutine was resumed
// into, and a yield from there would unwind into the wrong one.
func (rt *Runtime) nestedLoop() bool {
	var pcs [64]uintptr
	n := runtime.Callers(3, pcs[:])
	loops := 0
	for _, pc := range pcs[:n] {
		kind, ok := rt.pcKinds[pc]
		if !ok {
			kind = pcOther
			if f := runtime.FuncForPC(pc - 1); f != nil {
				switch f.Name() {
				case "github.com/yuin/gopher-lua.mainLoop", "github.com/yuin/gopher-lua.mainLoopWithContext":
					kind = pcLoop
				case "github.com/yuin/gopher-lua.threadRun":
					kind = pcResume
				}
			}
			if rt.pcKinds == nil {
				rt.pcKinds = map[uintptr]pcKind{}
			}
			rt.pcKinds[pc] = kind
		}
		switch kind {
		case pcLoop:
			loops++
		case pcResume:
			return loops > 1
		}
	}
	return loops > 1
}

// pcKind is what nestedLoop makes of a return address.
type pcKind uint8

const (
	pcOther pcKind = iota
	pcLoop
	pcResume
)
