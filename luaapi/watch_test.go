package luaapi

import (
	"regexp"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestWatch(t *testing.T) {
	s := newSession(t, Config{})
	res := s.ok(pair + `
watch(true)
watch("on")                 -- twice is once
send(c, "hello")
sleep(0.35)
close(c)
sleep(0.35)
watch(false)
watch(false)
return a
`)
	a := res[0].String()
	out := s.out.String()
	for _, want := range []string{
		`(?m)^fd ` + a + `: 5 bytes waiting to be received$`,
		`(?m)^fd ` + a + `: ESTABLISHED -> CLOSE_WAIT$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("watch output %q; want a line matching %s", out, want)
		}
	}
	if n := len(regexp.MustCompile(`bytes waiting`).FindAllString(out, -1)); n != 1 {
		t.Errorf("told %d times of the same waiting bytes; want once:\n%s", n, out)
	}
}

// TestCloseStopsWatch: closing the runtime stops the watcher's goroutine,
// which would otherwise post to a closed (and maybe reused) descriptor.
func TestCloseStopsWatch(t *testing.T) {
	rt, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.ls.DoString(`watch(true)`); err != nil {
		t.Fatal(err)
	}
	w := rt.watch
	rt.Close()
	time.Sleep(150 * time.Millisecond)
	goleak.VerifyNone(t)
	if rt.watch != nil && rt.watch == w {
		close(w.stop) // keep the leak out of the other tests' reports
	}
}
