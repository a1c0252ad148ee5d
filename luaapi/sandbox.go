package luaapi

import (
	lua "github.com/yuin/gopher-lua"
)

// sandbox takes from a script what could harm the machine running it or
// reach past its sockets: programs, every file (reads too: a file's bytes
// could be sent to an allowed address, or loaded as code), closing the
// standard streams (whose descriptors socket() would then hand out),
// leaving the process, and the debug library. The standard streams can be
// read and written; sockets work as before.
func (rt *Runtime) sandbox() error {
	L := rt.ls
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
		for _, name := range []string{"open", "popen", "output", "tmpfile", "close"} {
			io.RawSetString(name, refuse("io."+name))
		}
		// Without an argument, io.lines reads the standard input and
		// io.input names it: both are harmless.
		for _, name := range []string{"lines", "input"} {
			io.RawSetString(name, stdinOnly(L, io.RawGetString(name), "io."+name))
		}
	}
	if files, ok := L.GetTypeMetatable("FILE*").(*lua.LTable); ok {
		files.RawSetString("close", refuse("closing a standard stream (file:close)"))
	}
	return nil
}

// stdinOnly wraps fn so that it may only be called without arguments.
func stdinOnly(L *lua.LState, fn lua.LValue, name string) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		if L.GetTop() > 0 {
			raise(L, "%s of a file is refused in --sandbox", name)
		}
		L.Push(fn)
		L.Call(0, lua.MultRet)
		return L.GetTop()
	})
}
