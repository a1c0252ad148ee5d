// Package repl is sockshell's shell: it reads lines (with readline on a
// terminal, plainly otherwise), turns command syntax into calls of the Lua
// functions of package luaapi, runs any other line as Lua in the same state,
// and prints results as the output contract says.
//
// It speaks only to package luaapi: it never reaches the engine (package
// sock) or the recording format. A Shell is not safe for concurrent use;
// its Run owns the session until the input ends.
package repl
