package luaapi

import (
	"encoding/hex"
	"fmt"
	"sockshell/record"
	"strings"
	"unicode/utf8"
)

// Quote writes data in the shell's DATA syntax, which pastes back into a
// command and into Lua as the same bytes: record.Quote.
func Quote(s string) string { return record.Quote(s) }

// QuoteAddr gives an address as the shell prints it: as it is when it is
// plain printable ASCII with no space, quote or backslash (every inet
// address, most paths), else quoted in the DATA syntax. An AF_UNIX name
// is whatever bytes the peer bound to; quoted, its escape codes and
// newlines are shown, never obeyed by the terminal, and the quoted form
// reads back as the same address.
func QuoteAddr(a string) string {
	for i := 0; i < len(a); i++ {
		if c := a[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return Quote(a)
		}
	}
	return a
}

// Printable returns text for the terminal — a message, a task's error, a
// listing — with everything that could act on the terminal written as an
// escape: control characters but tab (\n, \r, \xNN), DEL, the C1 controls,
// the bidirectional overrides and bytes that are not UTF-8. Text a peer
// chose (an address or data inside an error) is then shown, never obeyed;
// readable text, UTF-8 included, stays as it is.
func Printable(s string) string {
	i := 0
	for i < len(s) && s[i] >= ' ' && s[i] < 0x7f || i < len(s) && s[i] == '\t' {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t' || r >= ' ' && r < 0x7f:
			b.WriteByte(byte(r))
		case r < ' ' || r == 0x7f || r < 0xa0 || r == utf8.RuneError && size == 1 || bidi(r):
			for _, c := range []byte(s[i : i+size]) {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// bidi reports whether r is one of the Unicode controls that reorder the
// text around them (U+202A-U+202E, U+2066-U+2069), which can make what a
// terminal shows differ from what is there.
func bidi(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

// Hexdump formats data as `hexdump -C` does: offset, 16 bytes in hex, and
// the printable characters.
func Hexdump(s string) string {
	var b strings.Builder
	for off := 0; off < len(s); off += 16 {
		line := s[off:min(off+16, len(s))]
		fmt.Fprintf(&b, "%08x  ", off)
		for i := 0; i < 16; i++ {
			if i < len(line) {
				fmt.Fprintf(&b, "%02x ", line[i])
			} else {
				b.WriteString("   ")
			}
			if i == 7 {
				b.WriteByte(' ')
			}
		}
		b.WriteString(" |")
		for i := 0; i < len(line); i++ {
			if c := line[i]; c >= 0x20 && c < 0x7f {
				b.WriteByte(c)
			} else {
				b.WriteByte('.')
			}
		}
		b.WriteString("|\n")
	}
	if len(s) > 0 {
		fmt.Fprintf(&b, "%08x\n", len(s))
	}
	return b.String()
}

// Unhex decodes hex digits, ignoring spaces, colons and newlines between them.
func Unhex(s string) (string, error) {
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == ':' || r == '\n' || r == '\t' {
			return -1
		}
		return r
	}, s)
	b, err := hex.DecodeString(clean)
	if err != nil {
		return "", fmt.Errorf("bad hex %q: expected pairs of hex digits", s)
	}
	return string(b), nil
}
