// Package record turns the operations of a sockshell session into a Lua
// script that replays the session and checks that it still goes the same
// way: a Writer takes one Event per completed operation and writes the
// statements that redo it, folding calls repeated in a row into loops.
//
// It is a leaf: it knows nothing of Lua states, sockets or the shell, only
// the operations' names, their values' kinds (Kind, the one list shared
// with package luaapi) and the script it writes — and, to load that script
// fast, how gopher-lua parses Lua (Parse). A Writer is not safe for
// concurrent use.
package record
