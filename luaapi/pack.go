package luaapi

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// openBinary gives L what Lua 5.1 lacks for binary data: Lua 5.3's
// string.pack, string.unpack and string.packsize, and LuaJIT's bit library
// as the global bit.
//
// Start-up stays cheap: the functions are made the first time a name
// missing from string or bit is looked up (a metatable's __index on each,
// which then goes), so a runtime that never uses them pays for one
// function and one metatable. Until then rawget(string, "pack") is nil and
// pairs(bit) lists nothing.
func openBinary(L *lua.LState) {
	bit := L.CreateTable(0, 0) // gopher-lua's default sizes would cost more than the rest
	L.SetGlobal("bit", bit)
	meta := L.CreateTable(0, 1)
	meta.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		L.SetMetatable(t, lua.LNil)
		fill := func(name string, fn lua.LGFunction) {
			if t.RawGetString(name) == lua.LNil {
				t.RawSetString(name, L.NewFunction(fn))
			}
		}
		if t == bit {
			for _, f := range bitFuncs {
				fill(f.name, f.fn)
			}
		} else {
			fill("pack", strPack)
			fill("unpack", strUnpack)
			fill("packsize", strPacksize)
		}
		L.Push(t.RawGet(L.Get(2)))
		return 1
	}))
	L.SetMetatable(bit, meta)
	if s, ok := L.GetGlobal("string").(*lua.LTable); ok && L.GetMetatable(s) == lua.LNil {
		L.SetMetatable(s, meta)
	}
}

// The format language of Lua 5.3's manual, §6.4.2, with the sizes of its
// C types on Linux: int 4 bytes, long and size_t the word, lua_Integer
// (j) and lua_Number (n) 8.
//
// Numbers are gopher-lua's float64s, not Lua 5.3's 64-bit integers. pack
// takes an integer option's argument as the integer the number holds,
// exactly (a float64 holds every integer up to 2^53, and beyond that only
// some: 2^53+1 is already 2^53 when pack sees it); a number with a
// fraction, or outside the option's 64-bit range, is an error. Unsigned
// options take 0 to 2^64-1 and, as in Lua 5.3, negative numbers too, as
// their two's complement. unpack gives an unsigned option's value as a
// positive number (Lua 5.3 gives J's values from 2^63 up as negative), and
// an error for an integer no float64 holds exactly: read such a field with
// c8 (its bytes) or as two 4-byte halves.
const (
	packMaxInt   = 16 // the largest integral size, as in Lua 5.3
	packMaxAlign = 8  // the default of !: the alignment of double
	// packMaxSize is Lua 5.3's MAXSIZE (INT_MAX): the largest result, and
	// what a number in a format may reach.
	packMaxSize = math.MaxInt32
	// packMaxResults bounds unpack's results, as Lua's stack does.
	packMaxResults = 100000
	sizeWord       = strconv.IntSize / 8
)

var nativeLittle = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

type packKind uint8

const (
	kInt       packKind = iota // signed integers
	kUint                      // unsigned integers
	kFloat                     // floating-point numbers
	kChar                      // fixed-length strings
	kString                    // strings with a length prefix
	kZstr                      // zero-terminated strings
	kPadding                   // x
	kPaddAlign                 // X
	kNop                       // spaces, endianness and alignment
)

// packFormat reads a format string, one option at a time.
type packFormat struct {
	L        *lua.LState
	fn       string // the function's name in errors
	fmt      string
	i        int
	little   bool
	maxAlign int
}

func newPackFormat(L *lua.LState, fn string) *packFormat {
	f := libCheckString(L, fn, 1)
	if i := strings.IndexByte(f, 0); i >= 0 {
		f = f[:i] // a C string in Lua 5.3: the format ends at a zero
	}
	return &packFormat{L: L, fn: fn, fmt: f, little: nativeLittle, maxAlign: 1}
}

func (f *packFormat) done() bool { return f.i >= len(f.fmt) }

func (f *packFormat) argError(arg int, msg string) { libArgError(f.L, f.fn, arg, msg) }

func isPackDigit(c byte) bool { return '0' <= c && c <= '9' }

// num reads a number, or gives def if none is there. As in Lua 5.3 it
// stops reading digits before the number could pass packMaxSize: the rest
// are read as options (and are invalid).
func (f *packFormat) num(def int) int {
	if f.done() || !isPackDigit(f.fmt[f.i]) {
		return def
	}
	a := 0
	for {
		a = a*10 + int(f.fmt[f.i]-'0')
		f.i++
		if f.done() || !isPackDigit(f.fmt[f.i]) || a > (packMaxSize-9)/10 {
			return a
		}
	}
}

func (f *packFormat) numLimit(def int) int {
	n := f.num(def)
	if n > packMaxInt || n <= 0 {
		raise(f.L, "integral size (%d) out of limits [1,%d]", n, packMaxInt)
	}
	return n
}

// option reads one option: its kind and size.
func (f *packFormat) option() (packKind, int) {
	c := f.fmt[f.i]
	f.i++
	switch c {
	case 'b':
		return kInt, 1
	case 'B':
		return kUint, 1
	case 'h':
		return kInt, 2
	case 'H':
		return kUint, 2
	case 'l':
		return kInt, sizeWord
	case 'L', 'T':
		return kUint, sizeWord
	case 'j':
		return kInt, 8
	case 'J':
		return kUint, 8
	case 'f':
		return kFloat, 4
	case 'd', 'n':
		return kFloat, 8
	case 'i':
		return kInt, f.numLimit(4)
	case 'I':
		return kUint, f.numLimit(4)
	case 's':
		return kString, f.numLimit(sizeWord)
	case 'c':
		n := f.num(-1)
		if n == -1 {
			raise(f.L, "missing size for format option 'c'")
		}
		return kChar, n
	case 'z':
		return kZstr, 0
	case 'x':
		return kPadding, 1
	case 'X':
		return kPaddAlign, 0
	case ' ':
	case '<':
		f.little = true
	case '>':
		f.little = false
	case '=':
		f.little = nativeLittle
	case '!':
		f.maxAlign = f.numLimit(packMaxAlign)
	default:
		raise(f.L, "invalid format option '%s'", string([]byte{c}))
	}
	return kNop, 0
}

// details reads the next option and says how many bytes of padding align
// it at offset total.
func (f *packFormat) details(total int) (kind packKind, size, pad int) {
	kind, size = f.option()
	align := size
	if kind == kPaddAlign {
		if f.done() {
			f.argError(1, "invalid next option for option 'X'")
		}
		var next packKind
		if next, align = f.option(); next == kChar || align == 0 {
			f.argError(1, "invalid next option for option 'X'")
		}
	}
	if align <= 1 || kind == kChar {
		return kind, size, 0
	}
	align = min(align, f.maxAlign)
	if align&(align-1) != 0 {
		f.argError(1, "format asks for alignment not power of 2")
	}
	return kind, size, (align - total&(align-1)) & (align - 1)
}

// put appends u as a size-byte integer; bytes past the 8th are copies of
// the sign (neg) or zero.
func (f *packFormat) put(b []byte, u uint64, size int, neg bool) []byte {
	start := len(b)
	b = append(b, make([]byte, size)...)
	out := b[start:]
	for i := range size {
		var c byte
		switch {
		case i < 8:
			c = byte(u >> (8 * i))
		case neg:
			c = 0xff
		}
		if f.little {
			out[i] = c
		} else {
			out[size-1-i] = c
		}
	}
	return b
}

// get reads a size-byte integer; past 8 bytes the rest must extend it
// (sign or zeros), else it does not fit.
func (f *packFormat) get(b string, size int, signed bool) uint64 {
	at := func(i int) byte {
		if f.little {
			return b[i]
		}
		return b[size-1-i]
	}
	var u uint64
	for i := min(size, 8) - 1; i >= 0; i-- {
		u = u<<8 | uint64(at(i))
	}
	switch {
	case size < 8 && signed:
		mask := uint64(1) << (size*8 - 1)
		u = (u ^ mask) - mask
	case size > 8:
		var fill byte
		if signed && int64(u) < 0 {
			fill = 0xff
		}
		for i := 8; i < size; i++ {
			if at(i) != fill {
				raise(f.L, "%d-byte integer does not fit into Lua Integer", size)
			}
		}
	}
	return u
}

// integer is the argument of an integer option: the integer the number
// holds, as 64 bits (unsigned: up to 2^64-1).
func (f *packFormat) integer(arg int, unsigned bool) uint64 {
	n := libCheckNumber(f.L, f.fn, arg)
	switch {
	case n != math.Trunc(n): // a fraction or NaN (an infinity fails below)
	case n >= -(1<<63) && n < 1<<63:
		return uint64(int64(n))
	case unsigned && n >= 0 && n < 1<<64:
		return uint64(n)
	}
	f.argError(arg, "number has no integer representation")
	return 0
}

func strPack(L *lua.LState) int {
	f := newPackFormat(L, "pack")
	L.Push(lua.LNil) // as Lua 5.3's mark: a missing argument is "got nil"
	var b []byte
	arg := 1
	for !f.done() {
		kind, size, pad := f.details(len(b))
		if pad+size > packMaxSize-len(b) {
			f.argError(1, "format result too large")
		}
		b = append(b, make([]byte, pad)...)
		arg++
		switch kind {
		case kInt:
			v := int64(f.integer(arg, false))
			if lim := int64(1) << (size*8 - 1); size < 8 && (v < -lim || v >= lim) {
				f.argError(arg, "integer overflow")
			}
			b = f.put(b, uint64(v), size, v < 0)
		case kUint:
			u := f.integer(arg, true)
			if size < 8 && u >= 1<<(size*8) {
				f.argError(arg, "unsigned overflow")
			}
			b = f.put(b, u, size, false)
		case kFloat:
			n := libCheckNumber(L, f.fn, arg)
			if size == 4 {
				b = f.put(b, uint64(math.Float32bits(float32(n))), 4, false)
			} else {
				b = f.put(b, math.Float64bits(n), 8, false)
			}
		case kChar:
			s := libCheckString(L, f.fn, arg)
			if len(s) > size {
				f.argError(arg, "string longer than given size")
			}
			b = append(b, s...)
			b = append(b, make([]byte, size-len(s))...)
		case kString:
			s := libCheckString(L, f.fn, arg)
			if size < 8 && uint64(len(s)) >= 1<<(size*8) {
				f.argError(arg, "string length does not fit in given size")
			}
			if len(s) > packMaxSize-len(b)-size {
				f.argError(1, "format result too large")
			}
			b = append(f.put(b, uint64(len(s)), size, false), s...)
		case kZstr:
			s := libCheckString(L, f.fn, arg)
			if strings.IndexByte(s, 0) >= 0 {
				f.argError(arg, "string contains zeros")
			}
			if len(s) >= packMaxSize-len(b) {
				f.argError(1, "format result too large")
			}
			b = append(append(b, s...), 0)
		case kPadding:
			b = append(b, 0)
			arg--
		case kPaddAlign, kNop:
			arg--
		}
	}
	L.Push(lua.LString(b))
	return 1
}

func strPacksize(L *lua.LState) int {
	f := newPackFormat(L, "packsize")
	total := 0
	for !f.done() {
		kind, size, pad := f.details(total)
		size += pad
		if total > packMaxSize-size {
			f.argError(1, "format result too large")
		}
		total += size
		if kind == kString || kind == kZstr {
			f.argError(1, "variable-length format")
		}
	}
	L.Push(lua.LNumber(total))
	return 1
}

func strUnpack(L *lua.LState) int {
	f := newPackFormat(L, "unpack")
	data := libCheckString(L, f.fn, 2)
	pos := 0 // where the next option is read, from 0
	if L.Get(3) != lua.LNil {
		init := int64(f.integer(3, false)) // from the end if negative
		switch {
		case init >= 0:
		case uint64(-init) > uint64(len(data)):
			init = 0
		default:
			init += int64(len(data)) + 1
		}
		if init < 1 || init-1 > int64(len(data)) {
			f.argError(3, "initial position out of string")
		}
		pos = int(init - 1)
	}
	var out []lua.LValue
	for !f.done() {
		kind, size, pad := f.details(pos)
		if pad+size > len(data)-pos {
			f.argError(2, "data string too short")
		}
		pos += pad
		var v lua.LValue
		switch kind {
		case kInt, kUint:
			v = f.number(f.get(data[pos:pos+size], size, kind == kInt), size, kind == kInt)
		case kFloat:
			u := f.get(data[pos:pos+size], size, false)
			if size == 4 {
				v = lua.LNumber(math.Float32frombits(uint32(u)))
			} else {
				v = lua.LNumber(math.Float64frombits(u))
			}
		case kChar:
			v = lua.LString(data[pos : pos+size])
		case kString:
			length := f.get(data[pos:pos+size], size, false)
			if length > uint64(len(data)-pos-size) {
				f.argError(2, "data string too short")
			}
			v = lua.LString(data[pos+size : pos+size+int(length)])
			pos += int(length)
		case kZstr:
			end := strings.IndexByte(data[pos:], 0)
			if end < 0 {
				f.argError(2, "unfinished string for format 'z'")
			}
			v = lua.LString(data[pos : pos+end])
			pos += end + 1
		}
		if v != nil {
			if len(out) == packMaxResults {
				raise(L, "stack overflow (too many results)")
			}
			out = append(out, v)
		}
		pos += size
	}
	out = append(out, lua.LNumber(pos+1))
	// One push of them all: gopher-lua grows its stack a little at a
	// time, copying it, so pushing each of many would take quadratic time.
	top := L.GetTop()
	L.SetTop(top + len(out))
	for i, v := range out {
		L.Replace(top+1+i, v)
	}
	return len(out)
}

// number is an unpacked integer as a Lua number, or an error if no
// float64 holds it exactly.
func (f *packFormat) number(u uint64, size int, signed bool) lua.LNumber {
	if signed {
		v := int64(u)
		if x := float64(v); x != 1<<63 && int64(x) == v {
			return lua.LNumber(x)
		}
		raise(f.L, "%d-byte integer %d does not fit exactly into a Lua number (beyond 2^53)", size, v)
	}
	if x := float64(u); x != 1<<64 && uint64(x) == u {
		return lua.LNumber(x)
	}
	raise(f.L, "%d-byte integer %d does not fit exactly into a Lua number (beyond 2^53)", size, u)
	return 0
}

// libArgError raises Lua's error for a bad argument of a library function:
// bad argument #N to 'NAME' (MSG), at the caller's line.
func libArgError(L *lua.LState, fn string, arg int, msg string) {
	raise(L, "bad argument #%d to '%s' (%s)", arg, fn, msg)
}

func libTypeError(L *lua.LState, fn string, arg int, want string) {
	got := "no value"
	if arg <= L.GetTop() {
		got = L.Get(arg).Type().String()
	}
	libArgError(L, fn, arg, fmt.Sprintf("%s expected, got %s", want, got))
}

// libCheckNumber is luaL_checknumber: a number, or a string that reads as
// one.
func libCheckNumber(L *lua.LState, fn string, arg int) float64 {
	switch v := L.Get(arg).(type) {
	case lua.LNumber:
		return float64(v)
	case lua.LString:
		s := strings.Trim(string(v), " \t\n")
		if n, err := strconv.ParseInt(s, 0, 64); err == nil {
			return float64(n)
		}
		if n, err := strconv.ParseFloat(s, 64); err == nil {
			return n
		}
	}
	libTypeError(L, fn, arg, "number")
	return 0
}

// libCheckString is luaL_checkstring: a string, or a number as a string.
func libCheckString(L *lua.LState, fn string, arg int) string {
	switch v := L.Get(arg).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return v.String()
	}
	libTypeError(L, fn, arg, "string")
	return ""
}
