package luaapi

import (
	"math/rand/v2"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

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
		if got := hexEscapes(c.src); got != c.want {
			t.Errorf("hexEscapes(%q) = %q; want %q", c.src, got, c.want)
		}
	}
}

// FuzzQuoteRoundTrip: whatever Quote prints, compiled as a Lua string by
// the session, is the same bytes.
func FuzzQuoteRoundTrip(f *testing.F) {
	f.Add([]byte("\x00\x01\xff"))
	f.Add([]byte("\x001"))
	f.Add([]byte("a\"b\\c\n\r\t"))
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		f.Add(b)
	}
	rt, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(rt.Close)
	f.Fuzz(func(t *testing.T, b []byte) {
		fn, err := rt.Load("return "+Quote(string(b)), "fuzz")
		if err != nil {
			t.Fatalf("%s does not compile: %v", Quote(string(b)), err)
		}
		rt.L.Push(fn)
		rt.L.Call(0, 1)
		got := rt.L.Get(-1)
		rt.L.Pop(1)
		if s, ok := got.(lua.LString); !ok || string(s) != string(b) {
			t.Fatalf("%s read back as %q; want %q", Quote(string(b)), got, b)
		}
	})
}
