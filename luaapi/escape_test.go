package luaapi

import (
	"strings"
	"testing"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, tab\tand all", "plain text, tab\tand all"},
		{"café ✓", "café ✓"},
		{"\x1b]0;owned\x07\nsockshell> ", `\x1b]0;owned\x07\nsockshell> `},
		{"cr\rdel\x7f", `cr\rdel\x7f`},
		{"c1 \u009b31m", `c1 \xc2\x9b31m`},
		{"bidi \u202egnp.exe", `bidi \xe2\x80\xaegnp.exe`},
		{"bad \xff\xfe utf-8", `bad \xff\xfe utf-8`},
		{`a \ stays`, `a \ stays`},
	} {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestQuoteAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1:80", "127.0.0.1:80"},
		{"[::1]:80", "[::1]:80"},
		{"/tmp/s.sock", "/tmp/s.sock"},
		{"@name", "@name"},
		{"/tmp/a b", `"/tmp/a b"`},
		{"@\x00hidden", `"@\0hidden"`},
		{"/tmp/\x1b]0;owned\x07\n", `"/tmp/\x1b]0;owned\x07\n"`},
	} {
		if got := QuoteAddr(tc.in); got != tc.want {
			t.Errorf("QuoteAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestShowQuotesKeys: a table's keys are shown as Lua names only when they
// are; any other key (a header name a peer sent) is quoted.
func TestShowQuotesKeys(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	tb := L.NewTable()
	tb.RawSetString("ok_1", lua.LNumber(1))
	tb.RawSetString("Content-Type", lua.LString("x"))
	tb.RawSetString("\x1b[2J", lua.LTrue)
	if got, want := Show(tb), `{["Content-Type"] = "x", ["\x1b[2J"] = true, ok_1 = 1}`; got != want {
		t.Errorf("Show = %s, want %s", got, want)
	}
}

// FuzzPrintable: whatever the bytes, what Printable gives the terminal
// has no control character but tab, no C1 control, no bidi override and
// only valid UTF-8.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[2J", "\xc2\x9b", "\u202e", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := Printable(s)
		if !utf8.ValidString(p) {
			t.Fatalf("Printable(%q) = %q is not UTF-8", s, p)
		}
		for _, r := range p {
			if r < ' ' && r != '\t' || r >= 0x7f && r < 0xa0 || bidi(r) {
				t.Fatalf("Printable(%q) = %q holds %U", s, p, r)
			}
		}
		if q := QuoteAddr(s); strings.ContainsAny(q, "\x1b\x07\n\r") {
			t.Fatalf("QuoteAddr(%q) = %q", s, q)
		}
	})
}
