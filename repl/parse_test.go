package repl

import (
	"fmt"
	"strings"
	"testing"

	"sockshell/luaapi"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		line string
		want []Word // nil with err set: an error
		err  string
	}{
		{"", nil, ""},
		{"   \t ", nil, ""},
		{"socket inet stream", []Word{{Text: "socket"}, {Text: "inet"}, {Text: "stream"}}, ""},
		{"  send\t3   hi  ", []Word{{Text: "send"}, {Text: "3"}, {Text: "hi"}}, ""},
		{`send 3 "hello world\n"`, []Word{{Text: "send"}, {Text: "3"}, {Text: "hello world\n", Quoted: true}}, ""},
		{`"\n \r \t \0 \\ \" \x41"`, []Word{{Text: "\n \r \t \x00 \\ \" A", Quoted: true}}, ""},
		{`"\x00\xff\xFf\x7f"`, []Word{{Text: "\x00\xff\xff\x7f", Quoted: true}}, ""},
		{`"\01"`, []Word{{Text: "\x001", Quoted: true}}, ""},
		{`""`, []Word{{Text: "", Quoted: true}}, ""},
		{`"" ""`, []Word{{Text: "", Quoted: true}, {Text: "", Quoted: true}}, ""},
		{`"a"	"b"`, []Word{{Text: "a", Quoted: true}, {Text: "b", Quoted: true}}, ""},
		{`"tab	inside"`, []Word{{Text: "tab\tinside", Quoted: true}}, ""},
		{"hex:414243", []Word{{Text: "ABC", Quoted: true}}, ""},
		{"hex:", []Word{{Text: "", Quoted: true}}, ""},
		{"hex:00FF", []Word{{Text: "\x00\xff", Quoted: true}}, ""},
		{"hex:41:42", []Word{{Text: "AB", Quoted: true}}, ""},
		{"x hex:4142 y", []Word{{Text: "x"}, {Text: "AB", Quoted: true}, {Text: "y"}}, ""},
		{"HEX:41", []Word{{Text: "HEX:41"}}, ""},
		{"héllo wörld", []Word{{Text: "héllo"}, {Text: "wörld"}}, ""},
		{"a\x00b", []Word{{Text: "a\x00b"}}, ""},

		{`"unfinished`, nil, "missing closing quote"},
		{`send 3 "abc`, nil, "missing closing quote"},
		{`"ends in a backslash\`, nil, "unfinished escape"},
		{`"bad \q"`, nil, `bad escape \q`},
		{`"bad \a"`, nil, `bad escape \a`},
		{`"\x4"`, nil, `bad escape \x`},
		{`"\xg1"`, nil, `bad escape \x`},
		{`"\x`, nil, `bad escape \x`},
		{`"\x4`, nil, `bad escape \x`},
		{`"a"b`, nil, "expected a space after the closing quote"},
		{`a"b"`, nil, "unexpected quote inside a word"},
		{"hex:4", nil, "bad hex"},
		{"hex:zz", nil, "bad hex"},
		{"hex:41 hex:4x", nil, "bad hex"},
	}
	for _, tt := range tests {
		got, err := SplitWords(tt.line)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("SplitWords(%q) = %s, %v; want an error with %q", tt.line, showWords(got), err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("SplitWords(%q): %v", tt.line, err)
			continue
		}
		if !equalWords(got, tt.want) {
			t.Errorf("SplitWords(%q) = %s; want %s", tt.line, showWords(got), showWords(tt.want))
		}
	}
}

func showWords(ws []Word) string {
	var parts []string
	for _, w := range ws {
		if w.Quoted {
			parts = append(parts, fmt.Sprintf("%q(quoted)", w.Text))
		} else {
			parts = append(parts, fmt.Sprintf("%q", w.Text))
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func equalWords(a, b []Word) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestQuoteRoundTrip: every byte, alone and in company, comes back.
func TestQuoteRoundTrip(t *testing.T) {
	var all []byte
	for c := 0; c < 256; c++ {
		all = append(all, byte(c))
		checkRoundTrip(t, string([]byte{byte(c)}))
		checkRoundTrip(t, string([]byte{0, byte(c)}))
		checkRoundTrip(t, string([]byte{byte(c), '1'}))
	}
	checkRoundTrip(t, string(all))
	checkRoundTrip(t, "")
	checkRoundTrip(t, "\x000\x001\x00")
}

func checkRoundTrip(t *testing.T, s string) {
	t.Helper()
	q := luaapi.Quote(s)
	words, err := SplitWords(q)
	if err != nil || len(words) != 1 || words[0].Text != s || !words[0].Quoted {
		t.Errorf("SplitWords(Quote(%q)) = SplitWords(%s) = %s, %v; want one word %q", s, q, showWords(words), err, s)
	}
}

func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{
		"", "socket inet stream", `send 3 "a\n\x41\0"`, "hex:4142", `"unfinished`, `"\x4`, `a"b`,
		`"a"b`, "\t\t", `"\\\""`, "hex:", "recv -x 3", "\xff\xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words, err := SplitWords(line)
		if err != nil {
			if words != nil {
				t.Errorf("SplitWords(%q) gave words %s and an error %v", line, showWords(words), err)
			}
			return
		}
		for _, w := range words {
			if !w.Quoted && (w.Text == "" || strings.ContainsAny(w.Text, " \t\"")) {
				t.Errorf("SplitWords(%q): bare word %q is empty or holds a space or quote", line, w.Text)
			}
		}
		// What was split is split the same way again when written back.
		var parts []string
		for _, w := range words {
			parts = append(parts, luaapi.Quote(w.Text))
		}
		again, err := SplitWords(strings.Join(parts, " "))
		if err != nil || len(again) != len(words) {
			t.Fatalf("SplitWords(%q) = %s; quoted back and split again: %s, %v", line, showWords(words), showWords(again), err)
		}
		for i := range words {
			if again[i].Text != words[i].Text {
				t.Errorf("word %d: %q came back as %q", i, words[i].Text, again[i].Text)
			}
		}
	})
}

func FuzzQuoteRoundTrip(f *testing.F) {
	for _, s := range []string{"", "hello\n", "\x00\x01\xff", `"\`, "\x001", " a b ", "\t", "hex:41"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q := luaapi.Quote(string(b))
		words, err := SplitWords(q)
		if err != nil {
			t.Fatalf("SplitWords(Quote(%q)) = SplitWords(%s): %v", b, q, err)
		}
		if len(words) != 1 || words[0].Text != string(b) {
			t.Fatalf("SplitWords(Quote(%q)) = SplitWords(%s) = %s; want one word %q", b, q, showWords(words), b)
		}
	})
}
