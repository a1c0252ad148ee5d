package luaapi

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"sockshell/record"
)

// events collects what the runtime reports.
type events struct {
	list []record.Event
	err  error // returned by Write when set
}

func (e *events) Write(ev record.Event) error {
	e.list = append(e.list, ev)
	return e.err
}

// brief shows an event as "op(args) -> results" or "op(args) !CODE".
func brief(ev record.Event) string {
	show := func(vs []record.Value) string {
		parts := make([]string, len(vs))
		for i, v := range vs {
			switch v.Kind {
			case record.FD:
				parts[i] = fmt.Sprintf("fd%v", v.V)
			case record.Addr:
				parts[i] = "ADDR"
			case record.Nil:
				parts[i] = "nil"
			case record.Table:
				parts[i] = "{}"
			default:
				parts[i] = fmt.Sprintf("%#v", v.V)
			}
		}
		return strings.Join(parts, ", ")
	}
	s := ev.Op + "(" + show(ev.Args) + ")"
	if ev.Code != "" {
		return s + " !" + ev.Code
	}
	return s + " -> " + show(ev.Results)
}

func TestRecorderSeesFastAndWaitingCalls(t *testing.T) {
	s := newSession(t, Config{})
	rec := &events{}
	s.rt.SetRecorder(rec)
	if !s.rt.Recording() {
		t.Fatal("Recording() is false after SetRecorder")
	}
	s.ok(`
local l = socket("inet", "stream")
bind(l, "127.0.0.1:0")
listen(l, 5)
local srv = spawn(function()
  local fd = accept(l)          -- waits
  local x = recv(fd)            -- waits
  send(fd, x:upper())
  return fd
end)
sleep(0.01)
local c = socket("inet", "stream")
connect(c, getsockname(l))
sleep(0.01)
send(c, "hi")
local r = recv(c, 10, 2)        -- waits
local _, _, code = recv(c, 10, 0.01) -- waits, then times out
close(999)                       -- fails on the fast path
hex("ab")                        -- not a recorded operation
wait(srv)
`)
	got := normalize(rec.list)
	for i := range got {
		got[i] = got[i][len("taskN "):] // TestRecorderTaskOfWaitedCall checks the tasks
		if strings.HasPrefix(got[i], "wait(1) -> ") {
			got[i] = "wait(1) -> FD" // what the task returned: a number, not a descriptor argument
		}
	}
	want := []string{
		`socket("inet", "stream") -> F1`,
		`bind(F1, ADDR) -> true`,
		`listen(F1, 5) -> true`,
		`spawn({}) -> 1`, // the task's number: the recorder learns who started it
		`socket("inet", "stream") -> F2`,
		`getsockname(F1) -> ADDR`,
		`connect(F2, ADDR) -> true`,
		`accept(F1) -> F3, ADDR`,
		`send(F2, "hi") -> 2`,
		`recv(F3) -> "hi"`,
		`send(F3, "HI") -> 2`,
		`recv(F2, 10, 2) -> "HI"`,
		`recv(F2, 10, 0.01) !ETIMEDOUT`,
		`close(fd999) !EBADF`,
		`wait(1) -> FD`,
	}
	// accept and connect complete in the same turn of the scheduler, in
	// either order.
	if len(got) > 7 && strings.HasPrefix(got[6], "accept") {
		got[6], got[7] = got[7], got[6]
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, ev := range rec.list {
		if ev.Code != "" {
			if ev.Msg == "" || !strings.Contains(ev.Msg, ev.Code) {
				t.Errorf("%s: Msg %q; want the message naming %s", ev.Op, ev.Msg, ev.Code)
			}
			if len(ev.Results) != 0 {
				t.Errorf("%s failed but has results %v", ev.Op, ev.Results)
			}
		}
	}
	for i := 1; i < len(rec.list); i++ {
		if rec.list[i].At < rec.list[i-1].At {
			t.Errorf("event %d at %v is before event %d at %v", i, rec.list[i].At, i-1, rec.list[i-1].At)
		}
	}
}

// TestRecorderTaskOfWaitedCall: a call that waited is reported as made
// by the task that made it, not by whichever task was running when it
// completed.
func TestRecorderTaskOfWaitedCall(t *testing.T) {
	s := newSession(t, Config{})
	rec := &events{}
	s.rt.SetRecorder(rec)
	s.ok(pair + `
local t = spawn(function()
  send(a, "fast")            -- task 1, fast path
  return recv(a, 10, 2)      -- task 1, waits
end)
sleep(0.02)
send(c, "x")                 -- the main task, 0
wait(t)
`)
	got := normalize(rec.list)
	want := []string{`task1 send(F3, "fast") -> 4`, `task0 send(F2, "x") -> 1`, `task1 recv(F3, 10, 2) -> "x"`, `task0 wait(1) -> "x"`}
	if g := strings.Join(got[len(got)-4:], "\n"); g != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", g, strings.Join(want, "\n"))
	}
}

// normalize shows events with "taskN " before them and the descriptors
// named F1, F2, ... by order of appearance.
func normalize(list []record.Event) []string {
	var got []string
	fd := map[string]string{}
	num := regexp.MustCompile(`\bfd\d+\b`)
	for _, ev := range list {
		b := brief(ev)
		b = num.ReplaceAllStringFunc(b, func(s string) string {
			if s == "fd999" {
				return s
			}
			if _, ok := fd[s]; !ok {
				fd[s] = fmt.Sprintf("F%d", len(fd)+1)
			}
			return fd[s]
		})
		got = append(got, fmt.Sprintf("task%d %s", ev.Task, b))
	}
	return got
}

// TestRecorderOutsideTask: a call that waits with no task running is
// reported once, when it completes.
func TestRecorderOutsideTask(t *testing.T) {
	s := newSession(t, Config{})
	rec := &events{}
	s.rt.SetRecorder(rec)
	if err := s.rt.ls.DoString(pair + `recv(a, 10, 0.02)`); err != nil {
		t.Fatal(err)
	}
	last := rec.list[len(rec.list)-1]
	if last.Op != "recv" || last.Code != "ETIMEDOUT" {
		t.Errorf("last event %s; want recv !ETIMEDOUT", brief(last))
	}
}

// TestRecorderInterruptedAndStrict: an interrupted call is reported with
// EINTR; a failing call under strict is reported before it raises.
func TestRecorderInterruptedAndStrict(t *testing.T) {
	s := newSession(t, Config{})
	rec := &events{}
	s.rt.SetRecorder(rec)
	fn, err := s.rt.ls.LoadString(pair + `strict(true) return recv(a)`)
	if err != nil {
		t.Fatal(err)
	}
	task := s.rt.Spawn("main", fn)
	s.rt.RunUntil(func() bool { return strings.HasPrefix(task.State(), "waiting: recv") })
	s.rt.Cancel(task, true)
	s.rt.RunUntil(task.Done)
	if !strings.Contains(task.Err(), "recv: expected success, got recv") {
		t.Errorf("error %q", task.Err())
	}
	last := rec.list[len(rec.list)-1]
	if last.Op != "recv" || last.Code != "EINTR" {
		t.Errorf("last event %s; want recv !EINTR", brief(last))
	}
}

// TestRecorderError: a recorder that fails is dropped with one message,
// and the session goes on.
func TestRecorderError(t *testing.T) {
	s := newSession(t, Config{})
	rec := &events{err: errors.New("disk full")}
	s.rt.SetRecorder(rec)
	res := s.ok(`local fd = socket("inet", "stream") close(fd) return "went on"`)
	wantResults(t, res, `("went on")`)
	if len(rec.list) != 1 {
		t.Errorf("%d events written; want 1 (then the recorder is dropped)", len(rec.list))
	}
	if s.rt.Recording() {
		t.Error("still recording after the recorder failed")
	}
	if got := s.errOut.String(); got != "record: disk full (recording stopped)\n" {
		t.Errorf("stderr %q", got)
	}
	s.rt.SetRecorder(nil)
}
