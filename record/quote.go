package record

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Quote returns s as the one literal sockshell writes bytes in, in the
// shell's output and in recordings alike: a double-quoted string with
// \n \r \t \0 \\ \" and \xNN escapes (\x00 before a digit), made only of
// printable ASCII, so that no byte of s can end the string, the line or the
// statement early. The shell's command syntax reads it back as the same
// bytes, and so does Lua as sockshell compiles it (Lua 5.1 itself has no
// \x: see LuaSource).
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case 0:
			if i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
				b.WriteString(`\x00`)
			} else {
				b.WriteString(`\0`)
			}
		default:
			if c < 0x20 || c >= 0x7f {
				fmt.Fprintf(&b, `\x%02x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Lua 5.1 has no \xNN escape in strings; gopher-lua reads "\x41" as "x41".
// sockshell prints bytes as "\x41" (as C, Python and Lua 5.2+ do), and
// what it prints must paste back into a Lua line as the same bytes, so
// every chunk sockshell loads — a typed line, -e, a script, a recording,
// loadstring, loadfile, dofile — reads \xNN in a quoted string as Lua 5.2
// does. The source is rewritten before gopher-lua compiles it: \xNN
// becomes the decimal escape \DDD, which Lua 5.1 reads as the same byte.

// LuaSource rewrites the \xNN escapes of src's quoted strings as \DDD,
// leaving comments, long strings and everything else as they are, so that
// gopher-lua reads them as Lua 5.2 does. Source without a \x is returned
// as it is, at the cost of one search.
func LuaSource(src string) string {
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

// luaNumber returns f as a Lua expression.
func luaNumber(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "math.huge"
	case math.IsInf(f, -1):
		return "-math.huge"
	case math.IsNaN(f):
		return "(0/0)"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// commentText returns s fit for the end of a Lua line comment: s itself if
// every rune of it is printable, else s Go-quoted, so that no byte of s (a
// newline in a socket path, say) can end the comment and start code.
func commentText(s string) string {
	if printable(s) {
		return s
	}
	return strconv.Quote(s)
}

// printable reports whether s is valid UTF-8 made only of printable runes.
func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// shellQuote returns args as a POSIX shell command line on one line: a word
// as it is when it needs no quoting, else in single quotes, or in bash's
// $'...' when it holds a newline or another byte that is not printable.
func shellQuote(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellWord(a)
	}
	return strings.Join(quoted, " ")
}

func shellWord(s string) string {
	switch {
	case s == "":
		return "''"
	case strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%_+=:,./-") == "":
		return s
	case printable(s):
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r != utf8.RuneError && unicode.IsPrint(r):
			b.WriteString(s[:size])
		default:
			for i := 0; i < size; i++ {
				b.WriteString(`\x`)
				b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
			}
		}
		s = s[size:]
	}
	b.WriteByte('\'')
	return b.String()
}
