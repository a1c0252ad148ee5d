package luaapi

import (
	"reflect"

	lua "github.com/yuin/gopher-lua"
)

// gopher-lua keeps its call frames to itself; two things the scheduler must
// know are in them. They are read by reflection from the Debug record that
// LState.GetStack returns (its unexported field frame), pinned to
// gopher-lua v1.1.2 and tested by the scheduler's tests.

// callFrame returns the call frame of stack level n, or false.
func callFrame(L *lua.LState, n int) (reflect.Value, bool) {
	dbg, ok := L.GetStack(n)
	if !ok {
		return reflect.Value{}, false
	}
	f := reflect.ValueOf(dbg).Elem().FieldByName("frame")
	if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() {
		return reflect.Value{}, false
	}
	return reflect.NewAt(f.Type().Elem(), f.UnsafePointer()).Elem(), true
}

// expectedResults returns how many results the caller of the running Go
// function asked for, or -1 for all of them. gopher-lua does not adjust the
// values a yielded Go function is resumed with to that number (missing ones
// would be Go nils, which crash the VM), so the scheduler does it.
func expectedResults(L *lua.LState) int {
	frame, ok := callFrame(L, 0)
	if !ok {
		return -1
	}
	if nret := frame.FieldByName("NRet"); nret.IsValid() && nret.Kind() == reflect.Int {
		return int(nret.Int())
	}
	return -1
}

// canYield reports whether the running Go function may yield: not when a
// Go function below it on the stack called Lua (table.sort's comparator, a
// metamethod, a loader), because gopher-lua cannot resume through a Go
// frame. Such a call waits where it is instead, holding up the other tasks
// but never the process.
func canYield(L *lua.LState) bool {
	for level := 1; ; level++ {
		frame, ok := callFrame(L, level)
		if !ok {
			return true
		}
		if fn, ok := frame.FieldByName("Fn").Interface().(*lua.LFunction); ok && fn != nil && fn.IsG {
			return false
		}
	}
}
