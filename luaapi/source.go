package luaapi

import (
	"os"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Lua 5.1 has no \xNN escape in strings; gopher-lua reads "\x41" as "x41".
// sockshell prints bytes as "\x41" (as C, Python and Lua 5.2+ do), and
// what it prints must paste back into a Lua line as the same bytes, so
// every chunk sockshell loads — a typed line, -e, a script, a recording,
// loadstring, loadfile, dofile — reads \xNN in a quoted string as Lua 5.2
// does. The source is rewritten before gopher-lua compiles it: \xNN
// becomes the decimal escape \DDD, which Lua 5.1 reads as the same byte.

// hexEscapes rewrites the \xNN escapes of src's quoted strings as \DDD,
// leaving comments, long strings and everything else as they are. Source
// without a \x is returned as it is, at the cost of one search.
func hexEscapes(src string) string {
	if !strings.Contains(src, `\x`) {
		return src
	}
	var b strings.Builder
	b.Grow(len(src))
	last := 0 // src[last:i] is still to be copied
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '-' && strings.HasPrefix(src[i:], "--"):
			if n := longBracket(src[i+2:]); n >= 0 {
				i = skipLong(src, i+2, n)
			} else if j := strings.IndexByte(src[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(src)
			}
		case c == '[':
			if n := longBracket(src[i:]); n >= 0 {
				i = skipLong(src, i, n)
			} else {
				i++
			}
		case c == '"' || c == '\'':
			i++
			for i < len(src) && src[i] != c && src[i] != '\n' {
				if src[i] != '\\' || i+1 >= len(src) {
					i++
					continue
				}
				if src[i+1] == 'x' && i+3 < len(src) && isHex(src[i+2]) && isHex(src[i+3]) {
					v, _ := strconv.ParseUint(src[i+2:i+4], 16, 8)
					b.WriteString(src[last:i])
					b.WriteByte('\\')
					d := strconv.Itoa(int(v))
					b.WriteString(strings.Repeat("0", 3-len(d)) + d)
					i += 4
					last = i
					continue
				}
				i += 2 // an escape: the escaped byte cannot end the string
			}
			i++
		default:
			i++
		}
	}
	if last == 0 {
		return src
	}
	b.WriteString(src[last:])
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// longBracket returns the level of the long bracket s opens ("[[" is 0,
// "[==[" is 2), or -1 if s does not open one.
func longBracket(s string) int {
	if len(s) == 0 || s[0] != '[' {
		return -1
	}
	n := 1
	for n < len(s) && s[n] == '=' {
		n++
	}
	if n < len(s) && s[n] == '[' {
		return n - 1
	}
	return -1
}

// skipLong returns the index past the long bracket opened at src[i:] with
// the given level, or len(src) if it is not closed.
func skipLong(src string, i, level int) int {
	end := "]" + strings.Repeat("=", level) + "]"
	if j := strings.Index(src[i+level+2:], end); j >= 0 {
		return i + level + 2 + j + len(end)
	}
	return len(src)
}

// Load compiles a chunk the way every chunk of the session is compiled
// (\xNN escapes read as in Lua 5.2). name is the chunk's name: "stdin"
// gives messages starting "stdin:1:".
func (rt *Runtime) Load(src, name string) (*lua.LFunction, error) {
	return rt.L.Load(strings.NewReader(hexEscapes(src)), name)
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
	L := rt.L
	L.SetGlobal("loadstring", L.NewFunction(func(L *lua.LState) int {
		src := L.CheckString(1)
		fn, err := L.Load(strings.NewReader(hexEscapes(src)), L.OptString(2, "<string>"))
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
