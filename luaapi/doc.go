// Package luaapi makes sockshell's operations Lua functions on a gopher-lua
// state, from one table of specs (Specs) that also feeds the shell's help,
// completion and argument parsing and the README's reference. It runs the
// task scheduler that lets blocking-looking Lua code wait on many sockets
// at once, the session's one signal watcher (WatchSignals) and its runner
// (RunMain), and reports every completed call to an optional recorder.
//
// It knows the engine (package sock) and the recording format's value
// kinds (package record), but nothing of the terminal, the line editor or
// the command line.
//
// A Runtime is not safe for concurrent use: one goroutine calls it and
// runs its scheduler, and other goroutines reach it only through Post
// (and Running, Task.Abort and WatchSignals, which are safe for concurrent
// use). Separate Runtimes share nothing and may run in parallel. The
// package-level tables (the specs, their index) are built once at
// initialization and only read afterwards.
package luaapi
