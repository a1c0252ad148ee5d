package luaapi

import (
	"reflect"
	"sync"

	lua "github.com/yuin/gopher-lua"
)

// gopher-lua keeps its call frames to itself; two things the scheduler must
// know are in them. They are read by reflection from the Debug record that
// LState.GetStack returns (its unexported field frame), pinned to
// gopher-lua v1.1.2 and tested by the scheduler's tests.

// frameFields holds the indices of the call frame's fields read here, found
// once: looking a field up by name allocates.
var frameFields = sync.OnceValue(func() (f struct{ frame, fn, parent, nret, pc int }) {
	frame, ok := reflect.TypeOf(lua.Debug{}).FieldByName("frame")
	if !ok || frame.Type.Kind() != reflect.Pointer {
		return f
	}
	f.frame = frame.Index[0]
	t := frame.Type.Elem()
	for name, dst := range map[string]*int{"Fn": &f.fn, "Parent": &f.parent, "NRet": &f.nret, "Pc": &f.pc} {
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
		fn, ok := frame.Field(ff.fn).Interface().(*lua.LFunction)
		if !ok || fn == nil {
			continue
		}
		if fn.IsG {
			return nret, false
		}
		// A Lua function calls the one above it with its current
		// instruction, a CALL or TAILCALL; any other (GETTABLE, CONCAT,
		// EQ, TFORLOOP, ...) means the VM called it itself — a
		// metamethod, a for-in iterator — from Go, in an interpreter loop
		// of its own that a yield would unwind into.
		if pc := frame.Field(ff.pc); pc.Kind() == reflect.Int && fn.Proto != nil {
			if i := int(pc.Int()) - 1; i >= 0 && i < len(fn.Proto.Code) {
				if op := int(fn.Proto.Code[i] >> 26); op != lua.OP_CALL && op != lua.OP_TAILCALL {
					return nret, false
				}
			}
		}
	}
}
