package record

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// luaString returns s as a Lua double-quoted string literal that reads back
// as exactly the bytes of s. The literal holds only printable ASCII, so no
// byte of s can end the string, the line or the statement early: quotes and
// backslashes are escaped, newline, carriage return and tab are \n \r \t,
// and every other byte is a three-digit decimal escape, so a digit that
// follows cannot be read as part of it (Lua 5.1 has no \x escapes).
func luaString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case ' ' <= c && c <= '~':
			b.WriteByte(c)
		default:
			b.WriteByte('\\')
			b.WriteByte('0' + c/100)
			b.WriteByte('0' + c/10%10)
			b.WriteByte('0' + c%10)
		}
	}
	b.WriteByte('"')
	return b.String()
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
