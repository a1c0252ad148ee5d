package luaapi

import (
	"os"
	"runtime/debug"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"sockshell/record"
)

// Load compiles a chunk the way every chunk of the session is compiled
// (\xNN escapes read as in Lua 5.2). name is the chunk's name: "stdin"
// gives messages starting "stdin:1:".
func (rt *Runtime) Load(src, name string) (*lua.LFunction, error) {
	rt.ladderIfNamed(src)
	return load(rt.ls, src, name)
}

// ladderIfNamed keeps the ladder's log from now on if src names ladder
// (Config.LadderOnDemand).
func (rt *Runtime) ladderIfNamed(src string) {
	if !rt.lad.on && strings.Contains(src, "ladder") {
		rt.lad.on = true
	}
}

// bigChunk is the size from which a chunk is compiled with the garbage
// collector off. A long recording's syntax tree is garbage once compiled,
// but while it grows the collector marks it again and again: for a
// 100,000-line recording that was a third of its load time. The collector
// runs again, once, when the function is made.
const bigChunk = 1 << 20

// load compiles src as gopher-lua's L.Load does, with record.Parse's
// faster parser in front of gopher-lua's for the Lua that recordings are
// made of; errors are the same *lua.ApiError.
func load(L *lua.LState, src, name string) (*lua.LFunction, error) {
	if len(src) >= bigChunk {
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
	}
	chunk, err := record.Parse(src, name)
	if err != nil {
		return nil, &lua.ApiError{Type: lua.ApiErrorSyntax, Object: lua.LString(err.Error()), Cause: err}
	}
	proto, err := lua.Compile(chunk, name)
	if err != nil {
		return nil, &lua.ApiError{Type: lua.ApiErrorSyntax, Object: lua.LString(err.Error()), Cause: err}
	}
	return L.NewFunctionFromProto(proto), nil
}

// LoadFile compiles a script file; its messages start "FILE:LINE:".
func (rt *Runtime) LoadFile(path string) (*lua.LFunction, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return rt.Load(string(src), path)
}

// loaders replaces loadstring and loadfile with versions that compile as
// Load does.
func (rt *Runtime) loaders() {
	L := rt.ls
	L.SetGlobal("loadstring", L.NewFunction(func(L *lua.LState) int {
		src := L.CheckString(1)
		rt.ladderIfNamed(src)
		fn, err := load(L, src, L.OptString(2, "<string>"))
		return loaded(L, fn, err)
	}))
	L.SetGlobal("loadfile", L.NewFunction(func(L *lua.LState) int {
		fn, err := rt.LoadFile(L.CheckString(1))
		return loaded(L, fn, err)
	}))
}

// loaded pushes what a loader returns: the function, or nil and the error.
func loaded(L *lua.LState, fn *lua.LFunction, err error) int {
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(luaErrorText(err)))
		return 2
	}
	L.Push(fn)
	return 1
}
