package luaapi

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Quote writes data in the shell's DATA syntax: a double-quoted string with
// \n \r \t \0 \\ \" and \xNN escapes, which the shell reads back as the same
// bytes.
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
