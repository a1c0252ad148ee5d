package repl

import (
	"fmt"
	"strings"

	"sockshell/luaapi"
)

// Word is one word of a command line: its text with quotes and escapes
// resolved, and whether it was quoted (or hex:).
type Word = luaapi.Word

// SplitWords splits a command line into words: bare words separated by
// spaces, double-quoted strings with C escapes (\n \r \t \0 \\ \" \xNN),
// and hex:414243 for raw bytes.
func SplitWords(line string) ([]Word, error) {
	var words []Word
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			return words, nil
		}
		if line[i] == '"' {
			s, n, err := unquote(line[i:])
			if err != nil {
				return nil, err
			}
			i += n
			if i < len(line) && line[i] != ' ' && line[i] != '\t' {
				return nil, fmt.Errorf("expected a space after the closing quote at column %d", i)
			}
			words = append(words, Word{Text: s, Quoted: true})
			continue
		}
		start := i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			if line[i] == '"' {
				return nil, fmt.Errorf("unexpected quote inside a word at column %d", i+1)
			}
			i++
		}
		w := line[start:i]
		if strings.HasPrefix(w, "hex:") {
			b, err := luaapi.Unhex(w[len("hex:"):])
			if err != nil {
				return nil, err
			}
			words = append(words, Word{Text: b, Quoted: true})
			continue
		}
		words = append(words, Word{Text: w})
	}
}

// unquote reads a double-quoted string at the start of s and returns its
// bytes and how much of s it took.
func unquote(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			i++
			if i >= len(s) {
				return "", 0, fmt.Errorf("unfinished escape at the end of the line")
			}
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '0':
				b.WriteByte(0)
			case '\\':
				b.WriteByte('\\')
			case '"':
				b.WriteByte('"')
			case 'x':
				if i+2 >= len(s) || unhexDigit(s[i+1]) < 0 || unhexDigit(s[i+2]) < 0 {
					return "", 0, fmt.Errorf(`bad escape \x: expected two hex digits (\x41)`)
				}
				b.WriteByte(byte(unhexDigit(s[i+1])<<4 | unhexDigit(s[i+2])))
				i += 2
			default:
				return "", 0, fmt.Errorf(`bad escape \%c: expected \n \r \t \0 \\ \" or \xNN`, s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("missing closing quote")
}

func unhexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
