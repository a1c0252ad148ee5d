package luaapi

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"regexp"
	"sockshell/record"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// binaryState is a bare Lua state with string.pack and bit, for tests that
// need no sockets.
func binaryState(t testing.TB) *lua.LState {
	L := lua.NewState()
	openBinary(L)
	t.Cleanup(L.Close)
	return L
}

// evalLua runs src (\xNN escapes allowed) as the chunk "t" and shows its
// results, or its error message.
func evalLua(L *lua.LState, src string) (results, err string) {
	fn, e := L.Load(strings.NewReader(record.LuaSource(src)), "t")
	if e != nil {
		return "", e.Error()
	}
	top := L.GetTop()
	L.Push(fn)
	if e := L.PCall(0, lua.MultRet, nil); e != nil {
		return "", luaErrorText(e)
	}
	var vs []lua.LValue
	for i := top + 1; i <= L.GetTop(); i++ {
		vs = append(vs, L.Get(i))
	}
	L.SetTop(top)
	return showAll(vs), ""
}

func TestPack(t *testing.T) {
	tests := []struct{ src, want string }{
		// The brief's own cases and the manual's options, one by one.
		{`return string.pack(">I2I2", 1, 2) == "\0\1\0\2"`, `(true)`},
		{`return string.pack(">I2I2", 1, 2)`, `("\0\x01\0\x02")`},
		{`return string.pack("<I2", 0x0102), string.pack(">I2", 0x0102), string.pack("=I2", 0x0102)`, `("\x02\x01", "\x01\x02", "\x02\x01")`},
		{`return string.pack("b", -128), string.pack("b", 127), string.pack("B", 255)`, `("\x80", "\x7f", "\xff")`},
		{`return string.pack("<h", -2), string.pack("<H", 65535)`, `("\xfe\xff", "\xff\xff")`},
		{`return #string.pack("i", 1), #string.pack("l", 1), #string.pack("L", 1), #string.pack("j", 1), #string.pack("J", 1), #string.pack("T", 1)`, `(4, 8, 8, 8, 8, 8)`},
		{`return #string.pack("f", 1), #string.pack("d", 1), #string.pack("n", 1)`, `(4, 8, 8)`},
		{`return string.pack(">i3", -2), string.pack("<I3", 0x010203)`, `("\xff\xff\xfe", "\x03\x02\x01")`},
		{`return string.pack("<i16", -1) == ("\xff"):rep(16), string.pack(">I9", 1)`, `(true, "\0\0\0\0\0\0\0\0\x01")`},
		{`return string.pack("<i10", -2)`, `("\xfe\xff\xff\xff\xff\xff\xff\xff\xff\xff")`},
		{`return string.pack("<I9", -1)`, `("\xff\xff\xff\xff\xff\xff\xff\xff\0")`}, // Lua 5.3: no sign extension for I
		{`return string.pack(">J", -1), string.pack(">J", 2^63), string.pack(">j", -2^63)`, `("\xff\xff\xff\xff\xff\xff\xff\xff", "\x80\0\0\0\0\0\0\0", "\x80\0\0\0\0\0\0\0")`},
		{`return string.pack(">j", 2^53 + 2), string.pack(">J", 2^64 - 2048)`, `("\0 \0\0\0\0\0\x02", "\xff\xff\xff\xff\xff\xff\xf8\0")`},
		{`return string.pack(">f", 1.5), string.pack("<d", -2)`, `("?\xc0\0\0", "\0\0\0\0\0\0\0\xc0")`},
		{`return string.pack(">n", 1/0), string.pack(">f", -1/0)`, `("\x7f\xf0\0\0\0\0\0\0", "\xff\x80\0\0")`},
		{`return string.pack("c5", "ab"), string.pack("c0", ""), string.pack("c3", "abc")`, `("ab\0\0\0", "", "abc")`},
		{`return string.pack("z", "hi"), string.pack("z", "")`, `("hi\0", "\0")`},
		{`return string.pack(">s2", "hello"), string.pack("<s1", ""), #string.pack("s", "x")`, `("\0\x05hello", "\0", 9)`},
		{`return string.pack(">s9", "a")`, `("\0\0\0\0\0\0\0\0\x01a")`},
		{`return string.pack("bxb", 1, 2), string.pack("xx")`, `("\x01\0\x02", "\0\0")`},
		{`return string.pack(" < i1 i2 ", 2, 3)`, `("\x02\x03\0")`}, // no alignment by default
		{`return string.pack("i2", "10"), string.pack("i2", "0x10"), string.pack("c2", 7)`, `("\n\0", "\x10\0", "7\0")`},
		{`return string.pack("<i4\0garbage", 1)`, `("\x01\0\0\0")`}, // the format ends at a zero, as a C string
		{`return string.pack(">i2 <i2", 10, 20)`, `("\0\n\x14\0")`},
		// Alignment: ! sets the maximum, X aligns to the next option.
		{`return string.pack(">!8 b Xh i4 i8 c1 Xi8", -12, 100, 200, "\xEC")`, `("\xf4\0\0\0\0\0\0d\0\0\0\0\0\0\0\xc8\xec\0\0\0\0\0\0\0")`},
		{`return string.pack(">!4 c3 c4 c2 z i4 c5 c2 Xi4", "abc", "abcd", "xz", "hello", 5, "world", "xy")`, `("abcabcdxzhello\0\0\0\0\0\x05worldxy\0")`},
		{`return string.pack(" b b Xd b Xb x", 1, 2, 3)`, `("\x01\x02\x03\0")`},
		{`return string.pack("!b i4", 1, 2), string.pack("!2 b i4", 1, 2)`, `("\x01\0\0\0\x02\0\0\0", "\x01\0\x02\0\0\0")`},
		// packsize.
		{`return string.packsize("i"), string.packsize("<! c3"), string.packsize("c0"), string.packsize("")`, `(4, 3, 0, 0)`},
		{`return string.packsize("!8 b Xh i4 i8 c1 Xi8"), string.packsize(" b b Xd b Xb x")`, `(24, 4)`},
		{`return string.packsize("!8 xXi8"), string.packsize("!8 xXi2"), string.packsize("!2 xXi8"), string.packsize("!16 xXi16")`, `(8, 2, 2, 16)`},
		{`return string.packsize(("c268435456"):rep(7) .. "c268435455")`, `(2147483647)`},
		{`return string.packsize("<b h b f d f n i")`, `(32)`},
		// unpack: values, then the next position.
		{`return string.unpack(">I2I2", "\0\1\0\2")`, `(1, 2, 5)`},
		{`return string.unpack("<i2 >i2", "\10\0\0\20")`, `(10, 20, 5)`},
		{`return string.unpack("b", "\xff"), string.unpack("B", "\xff")`, `(-1, 255, 2)`},
		{`return string.unpack("<i3", "\xf0\xff\xff"), string.unpack(">I3", "\xf0\xff\xff")`, `(-16, 15794175, 4)`},
		{`return string.unpack("<i16", ("\xff"):rep(16))`, `(-1, 17)`},
		{`return string.unpack("<I9", "\5\0\0\0\0\0\0\0\0")`, `(5, 10)`},
		{`return string.unpack(">j", "\0\32\0\0\0\0\0\2")`, `(9007199254740994, 9)`},
		{`return string.unpack(">J", "\128\0\0\0\0\0\0\0") == 2^63`, `(true)`},
		{`return string.unpack(">j", "\128\0\0\0\0\0\0\0") == -2^63`, `(true)`},
		{`return string.unpack(">f", "?\xc0\0\0"), string.unpack("<d", "\0\0\0\0\0\0\0\xc0")`, `(1.5, -2, 9)`},
		{`return string.unpack("c2c1", "abc")`, `("ab", "c", 4)`},
		{`return string.unpack("zB", "hello\0\xf9")`, `("hello", 249, 8)`},
		{`return string.unpack(">s2", "\0\5hello!")`, `("hello", 8)`},
		{`return string.unpack("!4 z c3", "abcdefghi\0xyz")`, `("abcdefghi", "xyz", 14)`},
		{`return string.unpack(">!8 c1 Xh i4 i8 b Xi8 XI XH", "\xf4\0\0\0\0\0\0d\0\0\0\0\0\0\0\xc8\xec\0\0\0\0\0\0\0")`, `("\xf4", 100, 200, -20, 25)`},
		{`return string.unpack("bbXdb", "\1\2\3\0")`, `(1, 2, 3, 4)`},
		{`return string.unpack("!8 xXi8", "0123456701234567"), string.unpack("!2 xXi8", "0123456701234567")`, `(9, 3)`},
		{`return string.unpack("c0", "")`, `("", 1)`},
		{`return string.unpack("", "abc")`, `(1)`},
		// unpack's init: from 1, negative from the end; alignment counts from the string's start.
		{`return string.unpack("i4", string.pack("i4i4i4i4", 1, 2, 3, 4), 5)`, `(2, 9)`},
		{`return string.unpack("!4 i4", string.pack("i4i4i4i4", 1, 2, 3, 4), 6)`, `(3, 13)`},
		{`return string.unpack("!4 i4", string.pack("i4i4i4i4", 1, 2, 3, 4), -4)`, `(4, 17)`},
		{`return string.unpack("!4 i4", string.pack("i4i4i4i4", 1, 2, 3, 4), -7)`, `(4, 17)`},
		{`return string.unpack("!4 i4", string.pack("i4i4i4i4", 1, 2, 3, 4), -16)`, `(1, 5)`},
		{`return string.unpack("c0", "abc", 4), string.unpack("c0", "abc", nil)`, `("", "", 1)`},
		{`return ("").unpack == string.unpack, (">H"):unpack("\0\7")`, `(true, 7, 3)`},
	}
	L := binaryState(t)
	for _, tt := range tests {
		got, err := evalLua(L, tt.src)
		if err != "" {
			t.Errorf("%s\n  error %s", tt.src, err)
		} else if got != tt.want {
			t.Errorf("%s\n  got  %s\n  want %s", tt.src, got, tt.want)
		}
	}
}

// TestPackErrors: every error Lua 5.3 gives, with its message, raised as a
// Lua error at the caller's line that pcall catches.
func TestPackErrors(t *testing.T) {
	tests := []struct{ call, want string }{
		{`string.pack("i2", 40000)`, `bad argument #2 to 'pack' (integer overflow)`},
		{`string.pack("i1", -129)`, `bad argument #2 to 'pack' (integer overflow)`},
		{`string.pack(">i3", 2^23)`, `bad argument #2 to 'pack' (integer overflow)`},
		{`string.pack("b b", 1, 128)`, `bad argument #3 to 'pack' (integer overflow)`},
		{`string.pack("I2", -1)`, `bad argument #2 to 'pack' (unsigned overflow)`},
		{`string.pack("B", 256)`, `bad argument #2 to 'pack' (unsigned overflow)`},
		{`string.pack("i4", 1.5)`, `bad argument #2 to 'pack' (number has no integer representation)`},
		{`string.pack("j", 2^63)`, `bad argument #2 to 'pack' (number has no integer representation)`},
		{`string.pack("J", 2^64)`, `bad argument #2 to 'pack' (number has no integer representation)`},
		{`string.pack("i4", 0/0)`, `bad argument #2 to 'pack' (number has no integer representation)`},
		{`string.pack("i4", 1/0)`, `bad argument #2 to 'pack' (number has no integer representation)`},
		{`string.pack("i4")`, `bad argument #2 to 'pack' (number expected, got nil)`},
		{`string.pack("i4 i4", 1)`, `bad argument #3 to 'pack' (number expected, got nil)`},
		{`string.unpack("i4")`, `bad argument #2 to 'unpack' (string expected, got no value)`},
		{`string.pack("i4", "x")`, `bad argument #2 to 'pack' (number expected, got string)`},
		{`string.pack("d", {})`, `bad argument #2 to 'pack' (number expected, got table)`},
		{`string.pack("z", nil)`, `bad argument #2 to 'pack' (string expected, got nil)`},
		{`string.pack()`, `bad argument #1 to 'pack' (string expected, got no value)`},
		{`string.pack("i0", 0)`, `integral size (0) out of limits [1,16]`},
		{`string.pack("i17", 0)`, `integral size (17) out of limits [1,16]`},
		{`string.pack("!17", 0)`, `integral size (17) out of limits [1,16]`},
		{`string.pack("Xi17")`, `integral size (17) out of limits [1,16]`},
		{`string.pack("s100", "alo")`, `integral size (100) out of limits [1,16]`},
		{`string.pack("i3r", 0)`, `invalid format option 'r'`},
		{`string.packsize("c1" .. ("0"):rep(40))`, `invalid format option '0'`},
		{`string.pack("!4i3", 0)`, `bad argument #1 to 'pack' (format asks for alignment not power of 2)`},
		{`string.pack("c", "")`, `missing size for format option 'c'`},
		{`string.pack("c3", "1234")`, `bad argument #2 to 'pack' (string longer than given size)`},
		{`string.pack("s1", ("x"):rep(256))`, `bad argument #2 to 'pack' (string length does not fit in given size)`},
		{`string.pack("z", "alo\0")`, `bad argument #2 to 'pack' (string contains zeros)`},
		{`string.pack("X")`, `bad argument #1 to 'pack' (invalid next option for option 'X')`},
		{`string.pack("Xc1")`, `bad argument #1 to 'pack' (invalid next option for option 'X')`},
		{`string.unpack("XXi", "")`, `bad argument #1 to 'unpack' (invalid next option for option 'X')`},
		{`string.unpack("X i", "")`, `bad argument #1 to 'unpack' (invalid next option for option 'X')`},
		{`string.pack("s4c2147483630", ("x"):rep(20), "")`, `bad argument #1 to 'pack' (format result too large)`},
		{`string.packsize(("c268435456"):rep(8))`, `bad argument #1 to 'packsize' (format result too large)`},
		{`string.packsize("s")`, `bad argument #1 to 'packsize' (variable-length format)`},
		{`string.packsize("z")`, `bad argument #1 to 'packsize' (variable-length format)`},
		{`string.unpack("i4", "abc")`, `bad argument #2 to 'unpack' (data string too short)`},
		{`string.unpack("c5", "abcd")`, `bad argument #2 to 'unpack' (data string too short)`},
		{`string.unpack("s", string.pack("s", "alo"):sub(1, -2))`, `bad argument #2 to 'unpack' (data string too short)`},
		{`string.unpack(">s8", "\255\255\255\255\255\255\255\255")`, `bad argument #2 to 'unpack' (data string too short)`},
		{`string.unpack("!4 i4", "12345678", 6)`, `bad argument #2 to 'unpack' (data string too short)`},
		{`string.unpack("zc10000000", "alo")`, `bad argument #2 to 'unpack' (unfinished string for format 'z')`}, // Lua 5.4's fix
		{`string.unpack("z", "alo")`, `bad argument #2 to 'unpack' (unfinished string for format 'z')`},          // 5.3 reads past the end
		{`string.unpack("c0", "abc", 0)`, `bad argument #3 to 'unpack' (initial position out of string)`},
		{`string.unpack("c0", "abc", 5)`, `bad argument #3 to 'unpack' (initial position out of string)`},
		{`string.unpack("c0", "abc", -4)`, `bad argument #3 to 'unpack' (initial position out of string)`},
		{`string.unpack("c0", "abc", 1.5)`, `bad argument #3 to 'unpack' (number has no integer representation)`},
		{`string.unpack("i16", ("\3"):rep(16))`, `16-byte integer does not fit into Lua Integer`},
		{`string.unpack("<I9", ("\0"):rep(8) .. "\1")`, `9-byte integer does not fit into Lua Integer`},
		{`string.unpack(">i9", "\1" .. ("\0"):rep(8))`, `9-byte integer does not fit into Lua Integer`},
		// Beyond Lua 5.3: an 8-byte integer that no float64 holds exactly.
		{`string.unpack(">j", "\0\32\0\0\0\0\0\1")`, `8-byte integer 9007199254740993 does not fit exactly into a Lua number (beyond 2^53)`},
		{`string.unpack(">J", ("\255"):rep(8))`, `8-byte integer 18446744073709551615 does not fit exactly into a Lua number (beyond 2^53)`},
		{`string.unpack("<i16", "\1\0\0\0\0\0\32\128" .. ("\255"):rep(8))`, `16-byte integer -9214364837600034815 does not fit exactly into a Lua number (beyond 2^53)`},
		{`string.unpack(">I7", "\32\0\0\0\0\0\1")`, `7-byte integer 9007199254740993 does not fit exactly into a Lua number (beyond 2^53)`},
	}
	L := binaryState(t)
	for _, tt := range tests {
		// Line 2 of the chunk: the error names it, and pcall catches it
		// with the same message.
		src := "local _ = 1\nreturn " + tt.call
		_, err := evalLua(L, src)
		if want := "t:2: " + tt.want; err != want {
			t.Errorf("%s\n  error %q\n  want  %q", tt.call, err, want)
		}
		got, _ := evalLua(L, "return pcall(function() return "+tt.call+" end)")
		if want := `(false, "t:1: ` + tt.want + `")`; got != want {
			t.Errorf("pcall(%s)\n  got  %s\n  want %s", tt.call, got, want)
		}
	}
}

// TestPackRoundTrip packs and unpacks the headers of real protocols and the
// limits of every integer size.
func TestPackRoundTrip(t *testing.T) {
	L := binaryState(t)
	src := `
-- A DNS header: id, flags, and the four section counts.
local dns = string.pack(">I2I2I2I2I2I2", 0xbeef, 0x0100, 1, 0, 0, 0)
assert(dns == "\xbe\xef\1\0\0\1\0\0\0\0\0\0", "dns")
assert(string.packsize(">I2I2I2I2I2I2") == 12)
local id, flags, qd, an, ns, ar, next = string.unpack(">I2I2I2I2I2I2", dns)
assert(id == 0xbeef and flags == 0x100 and qd == 1 and an == 0 and ns == 0 and ar == 0 and next == 13)
local rd = bit.band(bit.rshift(flags, 8), 1)
assert(rd == 1, "RD bit")

-- memcached's UDP frame header: request id, sequence number, count, reserved.
local mc = string.pack(">I2I2I2I2", 0x1234, 0, 1, 0) .. "get k\r\n"
assert(mc:sub(1, 8) == "\x12\x34\0\0\0\1\0\0", "memcached")
local req, seq, count, reserved, pos = string.unpack(">I2I2I2I2", mc)
assert(req == 0x1234 and seq == 0 and count == 1 and reserved == 0 and pos == 9)
assert(mc:sub(pos) == "get k\r\n")

-- TLVs: a type byte, then the value with a 2-byte length (s2).
local tlv = string.pack(">Bs2", 1, "hello") .. string.pack(">Bs2", 2, "") .. string.pack(">Bs2", 3, ("x"):rep(300))
assert(tlv:sub(1, 8) == "\1\0\5hello", "tlv")
local got, pos = {}, 1
while pos <= #tlv do
  local typ, value
  typ, value, pos = string.unpack(">Bs2", tlv, pos)
  got[#got + 1] = typ .. ":" .. #value
end
assert(table.concat(got, " ") == "1:5 2:0 3:300", table.concat(got, " "))

-- Every integer size at its limits, both endiannesses.
for i = 1, 16 do
  local bits = math.min(8 * i, 53)
  local umax = 2^bits - 1
  local smax, smin = 2^(math.min(8 * i - 1, 53)) - 1, -2^(math.min(8 * i - 1, 53))
  for _, e in ipairs{"<", ">"} do
    for _, v in ipairs{0, 1, umax} do
      local f = e .. "I" .. i
      local s = string.pack(f, v)
      assert(#s == i and string.packsize(f) == i)
      local back, n = string.unpack(f, s)
      assert(back == v and n == i + 1, f .. " " .. v)
    end
    for _, v in ipairs{0, -1, smax, smin} do
      local f = e .. "i" .. i
      local back = string.unpack(f, string.pack(f, v))
      assert(back == v, f .. " " .. v)
    end
  end
  assert(string.pack("i" .. i, -1) == ("\xff"):rep(i))
  assert(string.pack("<I" .. i, 0xAA) == "\xAA" .. ("\0"):rep(i - 1))
  assert(string.pack(">I" .. i, 0xAA) == ("\0"):rep(i - 1) .. "\xAA")
end

-- Floats: doubles exactly, floats for values a float holds.
for _, n in ipairs{0, -1.1, 1.9, 1/0, -1/0, 1e20, -1e20, 0.1, 2000.7} do
  for _, f in ipairs{"n", "<n", ">n", "<d", ">d"} do
    assert(string.unpack(f, string.pack(f, n)) == n, f .. " " .. n)
  end
  assert(string.pack("<f", n) == string.pack(">f", n):reverse())
end
for _, n in ipairs{0, -1.5, 1/0, -1/0, 1e10, -1e9, 0.5, 2000.25} do
  assert(string.unpack("<f", string.pack("<f", n)) == n)
  assert(string.unpack(">f", string.pack(">f", n)) == n)
end
local nan = string.unpack("d", string.pack("d", 0/0))
assert(nan ~= nan)

-- Several types at once, and long strings.
local x = string.pack("<b h b f d f n i", 1, 2, 3, 4, 5, 6, 7, 8)
assert(#x == string.packsize("<b h b f d f n i"))
local a, b, c, d, e, f, g, h = string.unpack("<b h b f d f n i", x)
assert(a == 1 and b == 2 and c == 3 and d == 4 and e == 5 and f == 6 and g == 7 and h == 8)
local s = ("abc"):rep(1000)
assert(string.pack("zB", s, 247) == s .. "\0\xF7")
for i = 2, 16 do
  local p = string.pack("s" .. i, s)
  assert(#p == #s + i and string.unpack("s" .. i, p) == s)
end
return true
`
	if got, err := evalLua(L, src); err != "" || got != "(true)" {
		t.Fatalf("got %s, error %s", got, err)
	}
}

// TestBinaryOnRuntime: every Runtime has string.pack and bit, sandboxed too,
// and a bad argument is an error at the script's line.
func TestBinaryOnRuntime(t *testing.T) {
	for _, sandbox := range []bool{false, true} {
		s := newSession(t, Config{Sandbox: sandbox})
		res := s.ok(`return string.pack(">I2", 258), ("<I2"):unpack("\2\1"), string.packsize("j"), bit.tohex(255), type(bit)`)
		wantResults(t, res, `("\x01\x02", 258, 8, "000000ff", "table")`)
		if got, want := s.run("bad.lua", "\nstring.pack('i2', 1e6)").Err(), `bad.lua:2: bad argument #2 to 'pack' (integer overflow)`; got != want {
			t.Errorf("sandbox %v: error %q; want %q", sandbox, got, want)
		}
		if got, want := s.run("bad.lua", "\n\nbit.band()").Err(), `bad.lua:3: bad argument #1 to 'band' (number expected, got no value)`; got != want {
			t.Errorf("sandbox %v: error %q; want %q", sandbox, got, want)
		}
		res = s.ok(`return pcall(string.unpack, "i4", "ab")`)
		wantResults(t, res, `(false, "bad argument #2 to 'unpack' (data string too short)")`)
		res = s.ok(`return pcall(string.unpack, ("B"):rep(100001), ("x"):rep(100001))`)
		wantResults(t, res, `(false, "stack overflow (too many results)")`)
	}
}

// FuzzPackRoundTrip: a format of fixed-size options made from the input,
// with values from it, packs to packsize bytes and unpacks to the same
// values and the next position.
func FuzzPackRoundTrip(f *testing.F) {
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b"))
	f.Add([]byte("hello, world: a DNS header and more"))
	f.Add([]byte{0xff, 0xfe, 0x80, 0x7f, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x81, 0x92})
	L := lua.NewState()
	defer L.Close()
	openBinary(L)
	str := L.GetGlobal("string")
	pack, unpack, packsize := L.GetField(str, "pack"), L.GetField(str, "unpack"), L.GetField(str, "packsize")
	f.Fuzz(func(t *testing.T, in []byte) {
		r := fuzzReader{b: in}
		var format strings.Builder
		var values []lua.LValue
		for range 1 + r.byte()%12 {
			v, opt := r.option()
			format.WriteString(opt)
			if v != nil {
				values = append(values, v)
			}
		}
		fmt := lua.LString(format.String())
		call := func(fn lua.LValue, args ...lua.LValue) []lua.LValue {
			top := L.GetTop()
			if err := L.CallByParam(lua.P{Fn: fn, NRet: lua.MultRet, Protect: true}, args...); err != nil {
				t.Fatalf("format %q values %s: %v", fmt, showAll(args[1:]), err)
			}
			out := make([]lua.LValue, L.GetTop()-top)
			for i := range out {
				out[i] = L.Get(top + 1 + i)
			}
			L.SetTop(top)
			return out
		}
		packed := call(pack, append([]lua.LValue{fmt}, values...)...)[0].(lua.LString)
		size := call(packsize, fmt)[0]
		if size != lua.LNumber(len(packed)) {
			t.Fatalf("format %q: packsize %v, packed %d bytes", fmt, size, len(packed))
		}
		got := call(unpack, fmt, packed)
		want := append(values, lua.LNumber(len(packed)+1))
		if len(got) != len(want) {
			t.Fatalf("format %q: unpacked %s, want %s", fmt, showAll(got), showAll(want))
		}
		for i := range got {
			if !sameValue(got[i], want[i]) {
				t.Fatalf("format %q: unpacked %s, want %s", fmt, showAll(got), showAll(want))
			}
		}
	})
}

// sameValue is == except that NaN is itself.
func sameValue(a, b lua.LValue) bool {
	x, ok1 := a.(lua.LNumber)
	y, ok2 := b.(lua.LNumber)
	if ok1 && ok2 && math.IsNaN(float64(x)) {
		return math.IsNaN(float64(y))
	}
	return a == b
}

// fuzzReader hands out the fuzzer's bytes, then zeros.
type fuzzReader struct {
	b        []byte
	maxAlign int // as the last ! set it
}

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) uint64() uint64 {
	var buf [8]byte
	for i := range buf {
		buf[i] = r.byte()
	}
	return binary.LittleEndian.Uint64(buf[:])
}

// option makes one fixed-size option and a value for it (nil for the
// options that take none).
func (r *fuzzReader) option() (lua.LValue, string) {
	size := int(r.byte()%16) + 1
	kind := r.byte() % 12
	if r.maxAlign > 2 && kind < 2 && size&(size-1) != 0 {
		size = 1 << bits.Len(uint(size)) // aligned, it must be a power of 2
	}
	switch kind {
	case 0: // signed, of any size: a value it holds, within ±2^53
		bits := min(8*size-1, 53)
		v := int64(r.uint64()) >> (64 - bits - 1) // within [-2^bits, 2^bits)
		return lua.LNumber(v), "i" + itoa(size)
	case 1: // unsigned
		bits := min(8*size, 53)
		return lua.LNumber(r.uint64() >> (64 - bits)), "I" + itoa(size)
	case 2:
		return lua.LNumber(int8(r.byte())), "b"
	case 3:
		return lua.LNumber(uint16(r.uint64())), "H"
	case 4:
		return lua.LNumber(math.Float64frombits(r.uint64())), []string{"d", "n"}[r.byte()%2]
	case 5:
		return lua.LNumber(math.Float32frombits(uint32(r.uint64()))), "f"
	case 6:
		s := make([]byte, size) // c pads a shorter one with zeros
		for i := range s {
			s[i] = r.byte()
		}
		return lua.LString(s), "c" + itoa(size)
	case 7:
		return nil, "x"
	case 8:
		return nil, string("<>="[r.byte()%3])
	case 9:
		r.maxAlign = 1 << (r.byte() % 5)
		return nil, "!" + itoa(r.maxAlign)
	case 10:
		return nil, "Xi" + itoa(1<<(r.byte()%5))
	default:
		return lua.LNumber(r.uint64() >> 11), "j"
	}
}

func itoa(n int) string { return lua.LNumber(n).String() }

// FuzzPackFormat: any format, with any data and arguments, gives results
// or a Lua error, never a Go panic.
func FuzzPackFormat(f *testing.F) {
	f.Add(">!8 b Xh i4 i8 c1 Xi8", "\xf4\x00\x00\x00\x00\x00\x00d\x00\x00\x00\x00\x00\x00\x00\xc8\xec\x00\x00\x00\x00\x00\x00\x00", 1.0)
	f.Add("zs2Xi16c3", "abc\x00\x00\x02xy", -1.0)
	f.Add("i17 c99999999999 !3 X", "", 0.5)
	f.Add("<j>J=T s16 x X!16", "\xff\xff\xff\xff\xff\xff\xff\xff", 9007199254740993.0)
	L := lua.NewState(lua.Options{RegistrySize: 1024, RegistryMaxSize: 256 * 1024})
	defer L.Close()
	openBinary(L)
	str := L.GetGlobal("string")
	fns := []lua.LValue{L.GetField(str, "pack"), L.GetField(str, "unpack"), L.GetField(str, "packsize")}
	f.Fuzz(func(t *testing.T, format, data string, n float64) {
		if len(format) > 64 {
			return
		}
		calls := fns
		if regexp.MustCompile(`[0-9]{6}`).MatchString(format) {
			calls = fns[1:] // pack("c99999999", ...) would only cost memory
		}
		for _, args := range [][]lua.LValue{
			{lua.LString(format), lua.LString(data), lua.LNumber(n), lua.LString(data), lua.LNumber(n)},
			{lua.LString(format), lua.LNumber(n), lua.LNumber(n), lua.LNumber(n)},
			{lua.LString(format), lua.LString(data), lua.LNumber(n)},
		} {
			for _, fn := range calls {
				top := L.GetTop()
				err := L.CallByParam(lua.P{Fn: fn, NRet: lua.MultRet, Protect: true}, args...)
				var ae *lua.ApiError
				if errors.As(err, &ae) && ae.Type != lua.ApiErrorRun {
					t.Fatalf("%q %q %v: %v", format, data, n, err)
				}
				L.SetTop(top)
			}
		}
	})
}

// TestBinaryLazy: the functions are made on first use, and a name looked
// up before then makes them all; what a script set is kept.
func TestBinaryLazy(t *testing.T) {
	L := binaryState(t)
	tests := []struct{ src, want string }{
		{`return rawget(string, "pack"), rawget(bit, "band"), next(bit)`, `(nil, nil, nil)`},
		{`bit.band = "mine"; return bit.bor(1, 2), bit.band, rawget(bit, "bxor") ~= nil, getmetatable(bit)`, `(3, "mine", true, nil)`},
		{`return string.nosuch, rawget(string, "unpack") ~= nil, getmetatable(string)`, `(nil, true, nil)`},
		{`local n = 0; for k in pairs(bit) do n = n + 1 end; return n`, `(12)`},
	}
	for _, tt := range tests {
		if got, err := evalLua(L, tt.src); err != "" || got != tt.want {
			t.Errorf("%s\n  got  %s %s\n  want %s", tt.src, got, err, tt.want)
		}
	}
}
