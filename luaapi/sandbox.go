package luaapi

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// sandbox takes from a script what could harm the machine running it:
// programs, file writes, loading other files, leaving the process, and the
// debug library. Sockets work as before.
func (rt *Runtime) sandbox() error {
	L := rt.L
	refuse := func(name string) *lua.LFunction {
		return L.NewFunction(func(L *lua.LState) int {
			raise(L, "%s is refused in --sandbox", name)
			return 0
		})
	}
	for _, name := range []string{"dofile", "loadfile", "require", "module"} {
		L.SetGlobal(name, refuse(name))
	}
	L.SetGlobal("debug", lua.LNil)
	L.SetGlobal("package", lua.LNil)
	if os, ok := L.GetGlobal("os").(*lua.LTable); ok {
		for _, name := range []string{"execute", "exit", "remove", "rename", "tmpname", "setenv", "setlocale"} {
			os.RawSetString(name, refuse("os."+name))
		}
	}
	if io, ok := L.GetGlobal("io").(*lua.LTable); ok {
		for _, name := range []string{"popen", "output", "tmpfile"} {
			io.RawSetString(name, refuse("io."+name))
		}
		open := io.RawGetString("open")
		io.RawSetString("open", L.NewFunction(func(L *lua.LState) int {
			mode := L.OptString(2, "r")
			if strings.ContainsAny(mode, "wa+") {
				raise(L, "io.open for writing (%q) is refused in --sandbox", mode)
			}
			top := L.GetTop()
			L.Push(open)
			L.Push(L.Get(1))
			L.Push(lua.LString(mode))
			L.Call(2, lua.MultRet)
			return L.GetTop() - top
		}))
	}
	return nil
}
