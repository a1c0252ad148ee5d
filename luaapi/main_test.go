package luaapi

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// session is a Runtime with its output captured, closed when the test ends.
type session struct {
	t           *testing.T
	rt          *Runtime
	out, errOut *bytes.Buffer
}

func newSession(t *testing.T, cfg Config) *session {
	t.Helper()
	s := &session{t: t, out: &bytes.Buffer{}, errOut: &bytes.Buffer{}}
	cfg.Stdout, cfg.Stderr = s.out, s.errOut
	if cfg.DefaultTimeout == 0 {
		cfg.DefaultTimeout = 10 * time.Second
	}
	rt, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.rt = rt
	t.Cleanup(rt.Close)
	return s
}

// run runs src as the main task of the session, named name (the chunk name
// errors carry), until it ends, and returns the task.
func (s *session) run(name, src string) *Task {
	s.t.Helper()
	fn, err := s.rt.ls.Load(strings.NewReader(src), name)
	if err != nil {
		s.t.Fatalf("load %s: %v", name, err)
	}
	task := s.rt.Spawn("main", fn)
	s.rt.RunUntil(task.Done)
	return task
}

// ok runs src and fails the test if it raised an error; it returns the
// task's results.
func (s *session) ok(src string) []lua.LValue {
	s.t.Helper()
	task := s.run("=test", src)
	if task.Err() != "" {
		s.t.Fatalf("chunk failed: %s\nstderr: %s", task.Err(), s.errOut)
	}
	return task.Results()
}

// runOK makes a session and runs src in it, returning its results.
func runOK(t *testing.T, src string) []lua.LValue {
	t.Helper()
	return newSession(t, Config{}).ok(src)
}

func showAll(vs []lua.LValue) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = Show(v)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// wantResults fails unless got shows as want (each value through Show,
// joined with ", " in parentheses).
func wantResults(t *testing.T, got []lua.LValue, want string) {
	t.Helper()
	if s := showAll(got); s != want {
		t.Errorf("results %s; want %s", s, want)
	}
}

// pair is the prologue of many chunks: a connected TCP pair on loopback,
// c (client) and a (the accepted end), with the listener closed.
const pair = `
local l = socket("inet", "stream")
assert(bind(l, "127.0.0.1:0"))
assert(listen(l))
local c = socket("inet", "stream")
assert(connect(c, getsockname(l)))
local a = assert(accept(l))
close(l)
`

// atLine replaces LINE in want with the line number that follows the
// prologue of a chunk: the first line of the test's own code.
func atLine(want, prologue string) string {
	return strings.ReplaceAll(want, "LINE", fmt.Sprint(strings.Count(prologue, "\n")+1))
}
