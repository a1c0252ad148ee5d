package record

import "testing"

func TestHexEscapes(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`x = "\x41"`, `x = "\065"`},
		{`x = '\x00\xff1'`, `x = '\000\2551'`},
		{`x = "\\x41"`, `x = "\\x41"`},                       // an escaped backslash, then x41
		{`x = "\"\x41"`, `x = "\"\065"`},                     // an escaped quote does not end the string
		{`-- "\x41"` + "\n" + `y`, `-- "\x41"` + "\n" + `y`}, // a comment
		{`x = [[\x41]]`, `x = [[\x41]]`},                     // a long string
		{`--[==[ "\x41" ]==] x = "\x42"`, `--[==[ "\x41" ]==] x = "\066"`},
		{`x = "\x4"`, `x = "\x4"`}, // not two hex digits
		{`x = a[b["\x41"]]`, `x = a[b["\065"]]`},
	} {
		if got := LuaSource(c.src); got != c.want {
			t.Errorf("LuaSource(%q) = %q; want %q", c.src, got, c.want)
		}
	}
}
