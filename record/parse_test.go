package record

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// sameTree checks that the fast parser either gives src up or builds the
// tree gopher-lua's parser builds for it; it reports whether it took src.
func sameTree(t testing.TB, name, src string) bool {
	t.Helper()
	fast, ok := parseFast(src)
	if !ok {
		return false
	}
	slow, err := parse.Parse(strings.NewReader(LuaSource(src)), name)
	if err != nil {
		t.Fatalf("%s: the fast parser took a chunk gopher-lua rejects (%v):\n%s", name, err, src)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%s: the trees differ:\nfast: %s\ngopher-lua: %s\nsource:\n%s", name, dump(fast), dump(slow), src)
	}
	return true
}

func dump(chunk []ast.Stmt) string { return parse.Dump(chunk) }

// TestParseSameTree holds the fast parser to gopher-lua's trees on the
// project's own Lua (scripts, the bench's scripts, the prelude, recordings)
// and on recordings of random sessions, and checks that it takes every
// recording (else loading them is slow again).
func TestParseSameTree(t *testing.T) {
	var files []string
	for _, pat := range []string{"testdata/*.lua", "../scripts/*.lua", "../bench/lua/*.lua", "../bench/peers/*.lua", "../luaapi/*.lua"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d Lua files", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		took := sameTree(t, f, string(src))
		if strings.HasPrefix(f, "testdata/") && !took {
			t.Errorf("%s: a recording the fast parser gave up", f)
		}
	}
	r := rand.New(rand.NewPCG(7, 16))
	for i := range 20 {
		src := recordFile(t, Header{}, randomSession(r, 300+50*i))
		if !sameTree(t, "random", src) {
			t.Fatalf("a recording of a random session the fast parser gave up:\n%s", src)
		}
	}
}

// TestParseShapes covers what the files do not: each construct once, and
// the corners where gopher-lua's parser does something of its own.
func TestParseShapes(t *testing.T) {
	takes := []string{
		`f()`, `f "s"`, `f{1, 2; x = 3, ["k"] = 4,}`, `a.b.c:d(1)(2)`, `f()()`,
		`x = -2^-3 .. "a" .. "b" + 1 * 2 / 3 % 4 - #t`,
		`x = not a == b and c or d < e and f <= g or h > i ~= (j >= k)`,
		`x = (f())`, `x = ((f()))`, `x = (f)()`, `(f())`, `local a, b = ...`, `x = (...)`,
		`local function f(a, b, ...) return a, b end`, `function a.b.c:m(x) return end`,
		`function f(...) return ... end`, `while x do break end`, `repeat local x = 1 until x`,
		`if a then elseif b then x = 1 elseif c then else y = 2 end`, `if a then end`,
		`for i = 1, 10, 2 do end`, `for k, v in pairs(t) do end`, `do ; ; end`, `return;`,
		"x = 1 -- comment\n-- another\ny = 0x1F + 1.5e-3 + .5 + 3. + 1E+2",
		`s = "\a\b\f\n\r\t\v\\\"\'\065\0656\x41\x4g\q\300"`, `s = 'it"s'`, `t[1], t.x = 1, 2`,
		"f(\n1,\n2\n)\n\ng(x\n..\ny)", "local t = {\n  a = 1,\n  [2] = 3,\n}\n",
		";(function() -- part\nf()\nend)()\n", `x = a == b`, `f{a == b}`,
	}
	for _, src := range takes {
		if !sameTree(t, "shape", src) {
			t.Errorf("the fast parser gave up %q", src)
		}
	}
	givesUp := []string{
		"x = [[long]]", "--[[ long\ncomment ]] x = 1", "goto done", "::done::", "x = 012",
		"x = 1e", "x = 0x", "x = 3..4", "f\n(1)", "s = 'a\\\nb'", "x = 1\r\n", "x = ~1",
		"return 1 x = 2", "f", "(f) = 1", "f() = 1", "x = 'unterminated", "x = @",
		"local", "for i = 1 do end", "if x then", "x = {a = }", "break break",
	}
	for _, src := range givesUp {
		if _, ok := parseFast(src); ok {
			t.Errorf("the fast parser took %q", src)
		}
	}
}

// TestParseFallback shows that what the fast parser gives up gopher-lua
// still parses, and that a syntax error is gopher-lua's message.
func TestParseFallback(t *testing.T) {
	chunk, err := Parse("x = [[long]]", "f.lua")
	if err != nil || len(chunk) != 1 {
		t.Fatalf("Parse of a long string: %v, %v", chunk, err)
	}
	_, err = Parse("x = = 1", "f.lua")
	if err == nil || !strings.Contains(err.Error(), "f.lua line:1") {
		t.Fatalf("Parse of a syntax error: %v", err)
	}
}

// FuzzParse holds the fast parser to gopher-lua's tree on anything it
// takes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`f(1, "a\x41", {x = 2})`, "local a = b .. c\nfor i = 1, 2 do g(i) end",
		"if a then return -b^2 elseif not c then x.y = 1 end", `t[k], u = (f()), ...`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		sameTree(t, "fuzz", src)
	})
}
