package luaapi

import (
	"os"
	"sockshell/record"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Load compiles a chunk the way every chunk of the session is compiled
// (\xNN escapes read as in Lua 5.2). name is the chunk's name: "stdin"
// gives messages starting "stdin:1:".
func (rt *Runtime) Load(src, name string) (*lua.LFunction, error) {
	return rt.ls.Load(strings.NewReader(record.LuaSource(src)), name)
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
		fn, err := L.Load(strings.NewReader(record.LuaSource(src)), L.OptString(2, "<string>"))
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
