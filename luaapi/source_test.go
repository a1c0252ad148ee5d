package luaapi

import (
	"math/rand/v2"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

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
		rt.ls.Push(fn)
		rt.ls.Call(0, 1)
		got := rt.ls.Get(-1)
		rt.ls.Pop(1)
		if s, ok := got.(lua.LString); !ok || string(s) != string(b) {
			t.Fatalf("%s read back as %q; want %q", Quote(string(b)), got, b)
		}
	})
}
