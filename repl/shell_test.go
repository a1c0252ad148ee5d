package repl

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"sockshell/luaapi"
)

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name, input string
		want        int
	}{
		{"empty input", "", 0},
		{"blank lines and comments", "\n   \n-- a comment\n# another\n", 0},
		{"commands that succeed", "socket unix stream\ntimeout 1\nhelp close\n", 0},
		{"Lua that succeeds", "x = 1\nprint(x)\nfor i = 1, 2 do\nx = x + i\nend\n", 0},
		{"a failed command", "recv 99\n", 1},
		{"a failure then successes", "recv 99\nsocket unix stream\nx = 2\n", 1},
		{"a usage error", "socket inet\n", 1},
		{"a bad quote", "send 3 \"abc\n", 1},
		{"a Lua runtime error", "error('boom')\n", 1},
		{"a Lua syntax error", "x = = 2\n", 1},
		{"an unfinished chunk at the end", "for i = 1, 2 do\n", 1},
		{"a failed expect", "expect(1, 2)\n", 1},
		{"exit stops reading", "socket unix stream\nexit\nrecv 99\n", 0},
		{"quit stops reading", "quit\nrecv 99\n", 0},
		{"no newline at the end", "socket unix stream", 0},
		{"CRLF line ends", "socket unix stream\r\ntimeout 2\r\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, out := newRuntime(t)
			output, status := shell(t, rt, out, tt.input)
			if status != tt.want {
				t.Errorf("exit status %d; want %d; output:\n%s", status, tt.want, output)
			}
		})
	}
}

// TestOneErrorLine: whatever fails prints exactly one line, starting
// "error: ", with no stack traceback and no Go panic text.
func TestOneErrorLine(t *testing.T) {
	for _, line := range []string{
		`error("first\nsecond\nthird")`,
		`local t = nil; return t.x`,
		`(function() local function f() error("deep") end f() end)()`,
		`error({})`,
		`error()`,
		`string.rep()`,
		`x = = 1`,
		`socket("inet")`,
		`strict(true) close(99)`,
		`expect("a\nb", "c")`,
		`send 99 "x"`,
		`recv 99 -1`,
		`recvn 99 x`,
		`poll 1,x`,
		`setopt 3 linger x`,
		`nonblock 3 maybe`,
		`spawn f`,
		`wait 1`,
		`kill 77`,
		`sleep -1`,
		`sleep soon`,
		`recv -x`,
		`hex`,
		`unhex zz`,
		`record`,
		`replay /nonexistent/file.lua`,
		`coroutine.yield(1)`,
		`return coroutine.yield(1)`,
	} {
		t.Run(line, func(t *testing.T) {
			rt, out := newRuntime(t)
			output, status := shell(t, rt, out, line+"\n")
			lines := strings.Split(strings.TrimSuffix(output, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") {
				t.Errorf("output %q; want one line starting \"error: \"", output)
			}
			for _, bad := range []string{"traceback", "goroutine", "panic", "internal error", "runtime error: invalid memory"} {
				if strings.Contains(output, bad) {
					t.Errorf("output %q holds %q", output, bad)
				}
			}
			if status != 1 {
				t.Errorf("exit status %d; want 1", status)
			}
		})
	}
}

// TestSpawnedTasksKeepRunning: tasks spawned at the prompt go on between
// lines; the shell's descriptor table is the runtime's.
func TestSpawnedTasksKeepRunning(t *testing.T) {
	rt, out := newRuntime(t)
	fds := nextFDs(t, 3)
	input := fmt.Sprintf(`socket unix stream
bind %[1]d @sst-%[4]d-bg
listen %[1]d
server = spawn(function() local fd = accept(%[1]d) sendline(fd, "from the task") return fd end)
socket unix stream
connect %[2]d @sst-%[4]d-bg
recvline %[2]d
wait(server)
close %[3]d
close %[2]d
close %[1]d
`, fds[0], fds[1], fds[2], pid())
	output, status := shell(t, rt, out, input)
	want := fmt.Sprintf("%d\nok\nok\n%d\nok\n\"from the task\"\n%d\nok\nok\nok\n", fds[0], fds[1], fds[2])
	if output != want || status != 0 {
		t.Errorf("output (status %d):\n%s\nwant:\n%s", status, output, want)
	}
}

// TestTableRestoredAfterFailures: failed commands leave no descriptor
// behind.
func TestTableRestoredAfterFailures(t *testing.T) {
	rt, out := newRuntime(t)
	shell(t, rt, out, "socket unix stream\n")
	before := len(rt.FDs())
	shell(t, rt, out, strings.Repeat("socket unix raw\nsocket bogus stream\naccept 99\nconnect 99 @nowhere\n", 10))
	if n := len(rt.FDs()); n != before {
		t.Errorf("%d descriptors after the failures; want %d", n, before)
	}
}

// malformedLine returns a line the shell must answer with at most one line:
// one "error: " line for every kind but random bytes, which may also make
// a valid Lua expression and print its value.
func malformedLine(r *rand.Rand) (line string, mustFail bool) {
	word := func() string {
		const letters = "abcdefghijklmnopqrstuvwxyz0123456789_"
		b := make([]byte, 1+r.Intn(8))
		for i := range b {
			b[i] = letters[r.Intn(len(letters))]
		}
		return string(b)
	}
	specs := luaapi.Specs()
	switch r.Intn(6) {
	case 0: // random bytes
		b := make([]byte, 1+r.Intn(40))
		for i := range b {
			for b[i] = byte(r.Intn(256)); b[i] == '\n'; b[i] = byte(r.Intn(256)) {
			}
		}
		return string(b), false
	case 1: // a half-quoted string after a command
		s := specs[r.Intn(len(specs))]
		return fmt.Sprintf(`%s 3 "%s %s`, s.Name, word(), word()), true
	case 2: // a bad escape or bad hex
		s := specs[r.Intn(len(specs))]
		bad := []string{`"\q"`, `"\x4"`, `"\xzz"`, `hex:4`, `hex:xyz`, `"a"b`, `a"b"`, `"\`}
		return fmt.Sprintf(`%s %s`, s.Name, bad[r.Intn(len(bad))]), true
	case 3: // an unknown command with arguments
		args := []string{}
		for i := 0; i <= r.Intn(3); i++ {
			args = append(args, word())
		}
		return "zz" + word() + " " + strings.Join(args, " "), true
	case 4: // a command with too few or too many arguments
		for {
			s := specs[r.Intn(len(specs))]
			required, rest := 0, false
			for _, p := range s.Params {
				if !p.Optional {
					required++
				}
				if p.Kind == luaapi.KRest {
					rest = true
				}
			}
			if r.Intn(2) == 0 && required > 0 {
				args := []string{}
				for i := 0; i < r.Intn(required); i++ {
					args = append(args, word())
				}
				return strings.TrimSpace(s.Name + " " + strings.Join(args, " ")), true
			}
			if rest {
				continue
			}
			args := []string{}
			for i := 0; i < len(s.Params)+1+r.Intn(3); i++ {
				args = append(args, word())
			}
			return s.Name + " " + strings.Join(args, " "), true
		}
	default: // a Lua syntax error (not one that waits for more lines)
		errs := []string{"x = = 1", "local = 3", "end", "if then end", "return return", ")(", "x = 1 1",
			"for = 1 do end", "local function 1() end", "a.b.c = ", "} x", "x = {1 2}", "until x", "break 1", "::x 1"}
		return errs[r.Intn(len(errs))] + " --" + word(), true
	}
}

// TestMalformedLines feeds several hundred malformed lines, one shell run
// each on one runtime: each is answered with at most one line, an
// "error: " line where it must fail; nothing panics; the descriptor table
// ends as it began.
func TestMalformedLines(t *testing.T) {
	rt, out := newRuntime(t)
	shell(t, rt, out, "socket unix stream\n") // something in the table to keep
	before := len(rt.FDs())
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 600; i++ {
		line, mustFail := malformedLine(r)
		var output string
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("line %q: the shell panicked: %v", line, p)
				}
			}()
			output, _ = shell(t, rt, out, line+"\n")
		}()
		lines := strings.Split(strings.TrimSuffix(output, "\n"), "\n")
		switch {
		case output == "" && !mustFail:
		case len(lines) != 1:
			t.Errorf("line %q: %d lines of output: %q", line, len(lines), output)
		case mustFail && !strings.HasPrefix(lines[0], "error: "):
			t.Errorf("line %q: output %q; want one \"error: \" line", line, output)
		}
		if strings.Contains(output, "internal error") || strings.Contains(output, "traceback") {
			t.Errorf("line %q: output %q", line, output)
		}
	}
	if n := len(rt.FDs()); n != before {
		t.Errorf("%d descriptors after the malformed lines; want %d", n, before)
	}
}

// TestMalformedStream feeds the same kind of lines as one piped session.
func TestMalformedStream(t *testing.T) {
	rt, out := newRuntime(t)
	before := len(rt.FDs())
	r := rand.New(rand.NewSource(2))
	var input strings.Builder
	n := 400
	for i := 0; i < n; i++ {
		line, _ := malformedLine(r)
		input.WriteString(line + "\n")
	}
	var output string
	var status int
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("the shell panicked: %v", p)
			}
		}()
		output, status = shell(t, rt, out, input.String())
	}()
	lines := strings.Split(strings.TrimSuffix(output, "\n"), "\n")
	if len(lines) > n {
		t.Errorf("%d lines of output for %d lines of input", len(lines), n)
	}
	if errs := strings.Count(output, "error: "); errs < n/2 {
		t.Errorf("only %d error lines for %d malformed lines", errs, n)
	}
	if status != 1 {
		t.Errorf("exit status %d; want 1", status)
	}
	if got := len(rt.FDs()); got != before {
		t.Errorf("%d descriptors after the stream; want %d", got, before)
	}
}

// TestHugeRecvMax: a MAX far beyond any socket buffer is an EINVAL error
// (or served from what is there), not a Go panic's text.
func TestHugeRecvMax(t *testing.T) {
	rt, out := newRuntime(t)
	fds := nextFDs(t, 2)
	input := fmt.Sprintf("socket unix dgram\nsocket unix dgram\nbind %[1]d @sst-%[3]d-huge\nsendto %[2]d hi @sst-%[3]d-huge\nrecv %[1]d 4611686018427387904 0.1\n",
		fds[0], fds[1], pid())
	output, _ := shell(t, rt, out, input)
	lines := strings.Split(strings.TrimSuffix(output, "\n"), "\n")
	last := lines[len(lines)-1]
	if last != `"hi"` && !strings.HasPrefix(last, fmt.Sprintf("error: recv %d: EINVAL", fds[0])) {
		t.Errorf("recv with MAX 2^62 printed %q; want \"hi\" or an EINVAL error", last)
	}
}

// TestErrorsFromCommands: an operation that raises when called as a
// command prints "error: OP: ..." — not the position of the shell's own
// dispatch chunk or of the prelude.
func TestErrorsFromCommands(t *testing.T) {
	fd := nextFDs(t, 1)[0]
	tests := []struct{ input, want string }{
		{"sleep -1", "error: sleep: EINVAL: bad argument #1: "},
		{fmt.Sprintf("socket unix dgram\npoll %d 0 x", fd), `error: poll: EINVAL: bad argument #3: expected "r" or "w", got "x"`},
		{"strict on\nclose 99", "error: close: expected success, got close 99: EBADF: "},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			rt, out := newRuntime(t)
			output, _ := shell(t, rt, out, tt.input+"\n")
			lines := strings.Split(strings.TrimSuffix(output, "\n"), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, tt.want) {
				t.Errorf("printed %q; want it to start %q", last, tt.want)
			}
		})
	}
}

// TestEmptyStringResults: hex and hexdump of no bytes print an empty
// result, not "(unnamed)" (which is for addresses).
func TestEmptyStringResults(t *testing.T) {
	rt, out := newRuntime(t)
	output, _ := shell(t, rt, out, "hex \"\"\nhexdump \"\"\n")
	if strings.Contains(output, "(unnamed)") {
		t.Errorf("output %q; want no \"(unnamed)\" for empty strings", output)
	}
}
