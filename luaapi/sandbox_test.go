package luaapi

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// TestSandboxRefuses: each way out of the sandbox raises an error that
// says it is refused (record and replay fail with EPERM), and nothing
// reaches the filesystem.
func TestSandboxRefuses(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep.txt")
	script := filepath.Join(dir, "script.lua")
	os.WriteFile(keep, []byte("keep"), 0o644)
	os.WriteFile(script, []byte(`local f = io.open(DIR .. "/from-script", "w") f:write("x") f:close() return 1`), 0o644)
	s := newSession(t, Config{Sandbox: true})
	s.rt.ls.SetGlobal("DIR", lua.LString(dir))
	s.rt.ls.SetGlobal("KEEP", lua.LString(keep))
	s.rt.ls.SetGlobal("SCRIPT", lua.LString(script))
	attempts := []struct{ name, code, refusal string }{
		{"os.execute", `os.execute("touch " .. DIR .. "/execute")`, "os.execute is refused in --sandbox"},
		{"io.popen", `io.popen("touch " .. DIR .. "/popen")`, "io.popen is refused in --sandbox"},
		{"io.open w", `io.open(DIR .. "/open-w", "w")`, `io.open is refused in --sandbox`},
		{"io.open a+", `io.open(DIR .. "/open-a+", "a+")`, `io.open is refused in --sandbox`},
		{"io.open r+ existing", `io.open(KEEP, "r+"):write("overwritten")`, `io.open is refused in --sandbox`},
		{"io.open to read", `io.open(KEEP)`, `io.open is refused in --sandbox`},
		{"io.open r", `io.open(KEEP, "r")`, `io.open is refused in --sandbox`},
		{"load a file as code", `loadstring(io.open(SCRIPT):read("*a"))()`, `io.open is refused in --sandbox`},
		{"io.lines of a file", `for l in io.lines(KEEP) do end`, `io.lines of a file is refused in --sandbox`},
		{"io.input of a file", `io.input(KEEP) io.read("*a")`, `io.input of a file is refused in --sandbox`},
		{"io.input of a stream", `io.input(io.stdout)`, `io.input of a file is refused in --sandbox`},
		{"io.close", `io.close()`, `io.close is refused in --sandbox`},
		{"io.close stdout", `io.close(io.stdout)`, `io.close is refused in --sandbox`},
		{"stdout:close", `io.stdout:close()`, `closing a standard stream (file:close) is refused in --sandbox`},
		{"stderr:close", `io.stderr:close()`, `is refused in --sandbox`},
		{"stdin:close", `io.stdin:close()`, `is refused in --sandbox`},
		{"close through the metatable", `getmetatable(io.stdout).__index.close(io.stdout)`, `is refused in --sandbox`},
		{"io.output", `io.output(DIR .. "/output")`, "io.output is refused in --sandbox"},
		{"io.tmpfile", `io.tmpfile()`, "io.tmpfile is refused in --sandbox"},
		{"dofile", `dofile(SCRIPT)`, "dofile is refused in --sandbox"},
		{"loadfile", `loadfile(SCRIPT)()`, "loadfile is refused in --sandbox"},
		{"require", `require("script")`, "require is refused in --sandbox"},
		{"module", `module("m")`, "module is refused in --sandbox"},
		{"os.exit", `os.exit(3)`, "os.exit is refused in --sandbox"},
		{"os.remove", `os.remove(KEEP)`, "os.remove is refused in --sandbox"},
		{"os.rename", `os.rename(KEEP, DIR .. "/renamed")`, "os.rename is refused in --sandbox"},
		{"os.tmpname", `os.tmpname()`, "os.tmpname is refused in --sandbox"},
		{"debug", `debug.getinfo(1)`, "attempt to index"},
		{"package.loadlib", `package.loadlib("libc.so.6", "system")`, "attempt to index"},
		{"replay", `local ok, msg, code = replay(SCRIPT) assert(ok, msg)`, "script.lua: EPERM: loading files is refused in --sandbox"},
		{"record", `local ok, msg, code = record(DIR .. "/rec.lua") assert(ok, msg)`, "rec.lua: EPERM: file writes are refused in --sandbox"},
		{"record from the shell's hook", `assert(record(DIR .. "/rec2.lua"))`, "EPERM"},
	}
	s.rt.OnRecord = func(file string) error {
		t.Errorf("OnRecord(%q) called in the sandbox", file)
		return os.WriteFile(file, nil, 0o644)
	}
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			task := s.run("hostile.lua", a.code)
			if task.Err() == "" {
				t.Fatalf("%s was allowed: %s", a.code, showAll(task.Results()))
			}
			if !strings.Contains(task.Err(), a.refusal) {
				t.Errorf("error %q; want it to say %q", task.Err(), a.refusal)
			}
			if strings.Contains(task.Err(), "stack traceback") {
				t.Errorf("error carries a traceback: %q", task.Err())
			}
		})
	}
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if got := strings.Join(names, " "); got != "keep.txt script.lua" {
		t.Errorf("files in the directory: %s; want only keep.txt script.lua", got)
	}
	if b, _ := os.ReadFile(keep); string(b) != "keep" {
		t.Errorf("keep.txt holds %q", b)
	}
}

// TestSandboxAllows: sockets, loading strings, writing to the standard
// streams and the other libraries work as before; a refused close leaves
// the stream open, so that no socket gets its descriptor.
func TestSandboxAllows(t *testing.T) {
	s := newSession(t, Config{Sandbox: true})
	res := s.ok(pair + `
send(c, "ping")
local got = recv(a)
local chunk = loadstring("return 1 + 1")()
local t = wait(spawn(function() sleep(0.01) return "task" end))
print("printed")
io.write("written\n")
local refused = pcall(io.stderr.close, io.stderr)
local fd = socket("inet", "dgram")
assert(io.stderr:write(""))
assert(io.input() == io.stdin)
return got, chunk, t, type(os.time()), string.format("%d", 7), refused, fd > 2
`)
	wantResults(t, res, `("ping", 2, "task", "number", "7", false, true)`)
	if got := s.out.String(); got != "printed\nwritten\n" {
		t.Errorf("output %q", got)
	}
}

// TestSandboxOff: without the sandbox nothing is refused.
func TestSandboxOff(t *testing.T) {
	dir := t.TempDir()
	s := newSession(t, Config{})
	s.rt.ls.SetGlobal("DIR", lua.LString(dir))
	s.ok(`local f = assert(io.open(DIR .. "/w", "w")) f:write("x") f:close() assert(os.remove(DIR .. "/w"))`)
}
