package luaapi

import (
	"math"
	"math/bits"

	lua "github.com/yuin/gopher-lua"
)

// bitFuncs are LuaJIT's bit library (BitOp, bitop.luajit.org/api.html):
// 32-bit operations on Lua numbers. Each argument is taken modulo 2^32
// (a fraction rounded to the nearest integer, half to even, as BitOp's
// conversion does; NaN and infinities are 0), each result is a signed
// 32-bit number, and a shift or rotation uses the low 5 bits of its count.
var bitFuncs = []struct {
	name string
	fn   lua.LGFunction
}{
	{"tobit", func(L *lua.LState) int { return bitResult(L, bitArg(L, "tobit", 1)) }},
	{"tohex", bitTohex},
	{"bnot", func(L *lua.LState) int { return bitResult(L, ^bitArg(L, "bnot", 1)) }},
	{"band", bitFold("band", func(a, b uint32) uint32 { return a & b })},
	{"bor", bitFold("bor", func(a, b uint32) uint32 { return a | b })},
	{"bxor", bitFold("bxor", func(a, b uint32) uint32 { return a ^ b })},
	{"lshift", bitShift("lshift", func(x uint32, n int) uint32 { return x << n })},
	{"rshift", bitShift("rshift", func(x uint32, n int) uint32 { return x >> n })},
	{"arshift", bitShift("arshift", func(x uint32, n int) uint32 { return uint32(int32(x) >> n) })},
	{"rol", bitShift("rol", func(x uint32, n int) uint32 { return bits.RotateLeft32(x, n) })},
	{"ror", bitShift("ror", func(x uint32, n int) uint32 { return bits.RotateLeft32(x, -n) })},
	{"bswap", func(L *lua.LState) int { return bitResult(L, bits.ReverseBytes32(bitArg(L, "bswap", 1))) }},
}

// toBit is bit.tobit: x modulo 2^32, as the bits of an int32.
func toBit(x float64) uint32 {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return 0
	}
	return uint32(int64(math.Mod(math.RoundToEven(x), 1<<32)))
}

func bitArg(L *lua.LState, fn string, arg int) uint32 {
	return toBit(libCheckNumber(L, fn, arg))
}

func bitResult(L *lua.LState, b uint32) int {
	L.Push(lua.LNumber(int32(b)))
	return 1
}

func bitFold(name string, op func(a, b uint32) uint32) lua.LGFunction {
	return func(L *lua.LState) int {
		b := bitArg(L, name, 1)
		for i := 2; i <= L.GetTop(); i++ {
			b = op(b, bitArg(L, name, i))
		}
		return bitResult(L, b)
	}
}

func bitShift(name string, op func(x uint32, n int) uint32) lua.LGFunction {
	return func(L *lua.LState) int {
		x := bitArg(L, name, 1)
		return bitResult(L, op(x, int(bitArg(L, name, 2)&31)))
	}
}

// bitTohex is bit.tohex(x [, n]): the low |n| hex digits of x (default 8,
// at most 8), upper case if n is negative.
func bitTohex(L *lua.LState) int {
	b := bitArg(L, "tohex", 1)
	n := int64(8)
	if L.GetTop() >= 2 {
		n = int64(int32(bitArg(L, "tohex", 2)))
	}
	digits := "0123456789abcdef"
	if n < 0 {
		n, digits = -n, "0123456789ABCDEF"
	}
	n = min(n, 8)
	buf := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		buf[i] = digits[b&15]
		b >>= 4
	}
	L.Push(lua.LString(buf))
	return 1
}
