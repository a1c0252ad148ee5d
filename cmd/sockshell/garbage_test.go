package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// garbage is input a person might type by mistake, of every kind: broken
// quoting and escapes, bad words where numbers or names belong, missing and
// extra arguments, broken Lua, runtime Lua errors, binary bytes.
var garbage = []string{
	// broken quoting and escapes
	`"`,
	`\`,
	`send 3 "unterminated`,
	`send 3 "ab"cd`,
	`send 3 a"b`,
	`send 3 "\q"`,
	`send 3 "\x4"`,
	`send 3 "\xZZ"`,
	`send 3 "ends with a backslash\`,
	`send 3 hex:abc`,
	`send 3 hex:zz`,
	// bad words for numbers, names, addresses, durations
	`socket ipx stream`,
	`socket inet raw`,
	`socket 1 2`,
	`bind 3 nohost`,
	`bind 3 127.0.0.1:99999`,
	`bind 3 127.0.0.1:-1`,
	`bind 3 [::1`,
	`bind 3 999.1.1.1:0`,
	`bind 3 ""`,
	`connect 3 :`,
	`listen 3 many`,
	`listen 3.5`,
	`listen -3`,
	`recv x`,
	`recv 3 -5`,
	`recv 3 99999999999999999999`,
	`recv 3 1e3`,
	`recv 3 10 soon`,
	`recv 3 10 -1`,
	`shutdown 3 sideways`,
	`setopt 3 nosuch 1`,
	`setopt 3 nodelay maybe`,
	`getopt 3 nosuch`,
	`nonblock 3 perhaps`,
	`settimeout 3 forever`,
	`timeout never`,
	`timeout -1`,
	`sleep -1`,
	`poll abc`,
	`poll 3 soon`,
	`sendframe 3 x u64`,
	`wait 999`,
	`kill 999`,
	`unhex zz`,
	`strict maybe`,
	`watch maybe`,
	`at soon`,
	`info abc`,
	`replay /nonexistent/rec.lua`,
	// unknown descriptors
	`close 99`,
	`close 0`,
	`close 1`,
	`recv 2`,
	`close -1`,
	// missing and extra arguments
	`socket`,
	`socket inet`,
	`bind 3`,
	`connect`,
	`send 3`,
	`sendto 3 x`,
	`setopt 3 nodelay`,
	`record`,
	`socket inet stream extra`,
	`close 3 4`,
	`fds now`,
	`help socket more`,
	`spawn`,
	`fails`,
	`expect`,
	// broken Lua and Lua that fails when it runs
	`))`,
	`@@@`,
	`end`,
	`}`,
	`then`,
	`-x`,
	`x = `,
	`function f(`,
	`for i = 1, do`,
	`nosuchfunc()`,
	`error("boom")`,
	`error({})`,
	`error()`,
	`local t = nil; t.x = 1`,
	`("x"):nosuch()`,
	`1 + {}`,
	`expect(1, 2)`,
	`expect("a", {match = "^b"})`,
	`socket(nil, nil)`,
	`recv("x")`,
	`bind(3)`,
	`coroutine.yield(1)`,
	`setmetatable({}, {__index = function(t, k) return t[k] end}).x`,
	// binary bytes and control characters
	"\xff\xfe\x01\x02\x1b[A garbage",
	"send 3 \x00",
	"\x00",
	"\t\t)",
	"é",
}

// TestGarbageLines pipes each garbage line, alone, to the shell: it must
// print exactly one line on stderr, starting "error: ", nothing on stdout
// but the first command's result, never a Go panic or stack trace, and
// exit 1.
func TestGarbageLines(t *testing.T) {
	for _, line := range garbage {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("sockshell")
			cmd.Stdin = strings.NewReader("socket inet stream\n" + line + "\n")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("%q: exit: %v, want status 1", line, err)
			}
			if out := stderr.String(); !strings.HasPrefix(out, "error: ") || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Errorf("%q: stderr %q, want one line starting \"error: \"", line, out)
			}
			if stdout.String() != "3\n" {
				t.Errorf("%q: stdout %q, want only the socket's 3", line, stdout.String())
			}
			for _, s := range []string{"panic", "goroutine", ".go:"} {
				if strings.Contains(stdout.String()+stderr.String(), s) {
					t.Errorf("%q: output mentions %q: %s%s", line, s, stdout.String(), stderr.String())
				}
			}
		})
	}
}
