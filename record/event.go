// Package record turns the operations of a sockshell session into a Lua
// script that replays the session and checks that it still goes the same way.
package record

import "time"

// Kind says what a value in an Event stands for, so the writer knows which
// values name descriptors, which are data to check and which may vary.
type Kind int

const (
	Nil   Kind = iota
	FD         // a descriptor number: becomes a variable such as fd3
	Data       // bytes sent or received: written as an escaped Lua string
	Addr       // an address the user gave or the kernel chose
	Int        // an integer (backlog, sizes, byte counts)
	Num        // a float (timeouts, seconds)
	Str        // any other string (domain, type, option names, how)
	Bool       // a boolean
	Table      // a value the writer does not check (info tables, lists)
)

// Value is one argument or result of an operation.
type Value struct {
	Kind Kind
	V    any // nil, int, int64, float64, string, bool
}

// Event is one completed operation, as the Lua function layer saw it.
type Event struct {
	Op      string        // the Lua function name: "socket", "recv", ...
	Args    []Value       // as passed by the caller (optional ones left out)
	Results []Value       // on success, the values returned
	Code    string        // on failure, the errno name ("ECONNREFUSED"); "" on success
	Msg     string        // on failure, the error message
	At      time.Duration // when the call completed, since the session started
	Task    int           // the spawned task that made the call (0: the main task, or a shell line)
}
