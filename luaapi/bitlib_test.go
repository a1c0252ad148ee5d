package luaapi

import "testing"

// TestBit holds the bit library to LuaJIT's results: the examples of
// bitop.luajit.org/api.html and the edges of its 32-bit semantics.
func TestBit(t *testing.T) {
	tests := []struct{ src, want string }{
		{`bit.tobit(0xffffffff)`, `-1`},
		{`bit.tobit(0xffffffff + 1)`, `0`},
		{`bit.tobit(2^40 + 1234)`, `1234`},
		{`bit.tobit(2^31)`, `-2147483648`},
		{`bit.tobit(-2^31 - 1)`, `2147483647`},
		{`bit.tobit(0.5), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5)`, `0, 2, 2, -2`}, // half to even, as BitOp
		{`bit.tobit(1/0), bit.tobit(-1/0), bit.tobit(0/0)`, `0, 0, 0`},
		{`bit.tobit(2^80 + 2^33), bit.tobit(-2^40 - 5)`, `0, -5`},
		{`bit.tobit("0x10"), bit.tobit(" 7 ")`, `16, 7`},
		{`bit.tohex(1)`, `"00000001"`},
		{`bit.tohex(-1)`, `"ffffffff"`},
		{`bit.tohex(0xffffffff)`, `"ffffffff"`},
		{`bit.tohex(-1, -4)`, `"FFFF"`},
		{`bit.tohex(0x21, 4)`, `"0021"`},
		{`bit.tohex(0x87654321, 4)`, `"4321"`},
		{`bit.tohex(0x87654321, -8), bit.tohex(0x87654321, 12), bit.tohex(1, 0)`, `"87654321", "87654321", ""`},
		{`bit.bnot(0)`, `-1`},
		{`bit.tohex(bit.bnot(0x12345678))`, `"edcba987"`},
		{`bit.bor(1, 2, 4, 8)`, `15`},
		{`bit.band(0xffffffff, 0xff)`, `255`},
		{`bit.tohex(bit.band(0x12345678, 0xff))`, `"00000078"`},
		{`bit.tohex(bit.bxor(0xa5a5f0f0, 0xaa55ff00))`, `"0ff00ff0"`},
		{`bit.band(-1), bit.bor(5), bit.bxor(1, 3, 5)`, `-1, 5, 7`},
		{`bit.lshift(1, 0), bit.lshift(1, 8), bit.lshift(1, 40)`, `1, 256, 256`},
		{`bit.lshift(1, 31)`, `-2147483648`},
		{`bit.lshift(1, 32), bit.lshift(1, -1)`, `1, -2147483648`}, // the low 5 bits of the count
		{`bit.rshift(256, 8), bit.rshift(-256, 8)`, `1, 16777215`},
		{`bit.rshift(-1, 28)`, `15`},
		{`bit.arshift(256, 8), bit.arshift(-256, 8)`, `1, -1`},
		{`bit.arshift(-256, 4)`, `-16`},
		{`bit.tohex(bit.lshift(0x87654321, 12))`, `"54321000"`},
		{`bit.tohex(bit.rshift(0x87654321, 12))`, `"00087654"`},
		{`bit.tohex(bit.arshift(0x87654321, 12))`, `"fff87654"`},
		{`bit.tohex(bit.rol(0x12345678, 12))`, `"45678123"`},
		{`bit.rol(0x12345678, 12) == 0x45678123`, `true`},
		{`bit.tohex(bit.ror(0x12345678, 12))`, `"67812345"`},
		{`bit.ror(1, 1), bit.rol(0x80000000, 1), bit.rol(5, 32)`, `-2147483648, 1, 5`},
		{`bit.bswap(0x12345678) == 0x78563412`, `true`},
		{`bit.tohex(bit.bswap(0x78563412))`, `"12345678"`},
		{`bit.bswap(0xff)`, `-16777216`},
	}
	L := binaryState(t)
	for _, tt := range tests {
		got, err := evalLua(L, "return "+tt.src)
		if want := "(" + tt.want + ")"; err != "" || got != want {
			t.Errorf("%s\n  got  %s %s\n  want %s", tt.src, got, err, want)
		}
	}
}

func TestBitErrors(t *testing.T) {
	tests := []struct{ call, want string }{
		{`bit.band()`, `bad argument #1 to 'band' (number expected, got no value)`},
		{`bit.bor(1, nil)`, `bad argument #2 to 'bor' (number expected, got nil)`},
		{`bit.tohex("x")`, `bad argument #1 to 'tohex' (number expected, got string)`},
		{`bit.tohex(1, nil)`, `bad argument #2 to 'tohex' (number expected, got nil)`},
		{`bit.lshift(1)`, `bad argument #2 to 'lshift' (number expected, got no value)`},
		{`bit.bswap({})`, `bad argument #1 to 'bswap' (number expected, got table)`},
	}
	L := binaryState(t)
	for _, tt := range tests {
		if _, err := evalLua(L, "return "+tt.call); err != "t:1: "+tt.want {
			t.Errorf("%s\n  error %q\n  want  %q", tt.call, err, "t:1: "+tt.want)
		}
	}
}
