package record

import "time"

// Kind says what a value of a session's operations is: the one list of
// kinds, shared with package luaapi, which declares each operation's
// parameters and results by them (and parses, completes and prints by
// them). The values in an Event are of the first nine, which tell the
// writer which values name descriptors, which are data to check and which
// may vary; the others are the finer kinds of luaapi's declarations, which
// luaapi reports as one of the first nine.
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

	Domain      // inet | inet6 | unix (reported as Str)
	Type        // stream | dgram (Str)
	Seconds     // seconds (2, 0.5) or a duration (250ms) (Num)
	How         // rd | wr | rdwr (Str)
	Option      // a socket option name (Str)
	OptValue    // an option value: on|off or an integer
	OnOff       // on | off (Bool)
	FrameHeader // a frame header kind (Str)
	Name        // a word: a command name, a file, a mode (Str)
	FDList      // {fd, ...} (Table)
	Task        // a task (Table)
	Func        // a Lua function (Table)
	Any         // any value
	OK          // the result true, printed "ok" (Bool)
	Text        // a string result printed as it is (Str)
	Rest        // any number of further values
	Chunk       // data received from a stream, "" at its end (Data)
	Whole       // a datagram's whole length, when a receive cut it short (Int)
	Info        // a descriptor's row of the table (Table)
	InfoList    // the descriptor table (Table)
	TaskList    // the tasks listing (Table)
	Command     // a command's name (Str)
)

// Value is one argument or result of an operation. V is one of a closed
// set of types: nil, int, int64, float64, string or bool, and for FDList
// []int, the descriptor numbers.
type Value struct {
	Kind Kind
	V    any
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
