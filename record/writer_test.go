package record

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden scripts in testdata")

func call(op string, args ...Value) Event { return Event{Op: op, Args: args} }

func ok(ev Event, results ...Value) Event {
	ev.Results = results
	return ev
}

func failed(ev Event, code, msg string) Event {
	ev.Code, ev.Msg = code, msg
	return ev
}

// after sets when ev completed.
func after(d time.Duration, ev Event) Event {
	ev.At = d
	return ev
}

// timeline gives each event that has no time the time of the one before.
func timeline(events ...Event) []Event {
	for i := 1; i < len(events); i++ {
		if events[i].At == 0 {
			events[i].At = events[i-1].At
		}
	}
	return events
}

func fd(n int) Value         { return Value{FD, n} }
func str(s string) Value     { return Value{Str, s} }
func addr(s string) Value    { return Value{Addr, s} }
func payload(s string) Value { return Value{Data, s} }
func integer(n int) Value    { return Value{Int, n} }
func num(f float64) Value    { return Value{Num, f} }
func boolean(b bool) Value   { return Value{Bool, b} }
func inTask(n int, ev Event) Event {
	ev.Task = n
	return ev
}

var header = Header{
	Time:    time.Date(2026, 11, 26, 11, 0, 0, 0, time.FixedZone("CET", 3600)),
	Version: "v0.1.0",
	Command: []string{"sockshell", "--record", "session.lua"},
}

// script returns what a Writer writes for events.
func script(t testing.TB, h Header, events []Event) string {
	t.Helper()
	var b strings.Builder
	w, err := NewWriter(&b, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// sessions are the golden cases: the events of a session, the script they
// make in testdata/NAME.lua, and a replay with other descriptor numbers and
// other kernel-chosen addresses, which the script must get through.
var sessions = []struct {
	name   string
	events []Event
	replay []step
}{
	{
		name: "client",
		events: timeline(
			ok(call("socket", str("inet"), str("stream")), fd(3)),
			ok(call("setopt", fd(3), str("nodelay"), boolean(true)), boolean(true)),
			ok(call("getopt", fd(3), str("nodelay")), boolean(true)),
			ok(call("getopt", fd(3), str("rcvbuf")), integer(131072)),
			ok(call("settimeout", fd(3), num(2.5)), boolean(true)),
			ok(call("connect", fd(3), addr("127.0.0.1:9000")), boolean(true)),
			ok(call("getsockname", fd(3)), addr("127.0.0.1:51234")),
			ok(call("getpeername", fd(3)), addr("127.0.0.1:9000")),
			after(10*time.Millisecond, ok(call("send", fd(3), payload("hello\n")), integer(6))),
			after(1234*time.Millisecond, ok(call("recv", fd(3), integer(100)), payload("wor"))),
			after(1250*time.Millisecond, ok(call("recv", fd(3), integer(100), num(0.5)), payload("ld\n"))),
			after(1800*time.Millisecond, failed(call("recv", fd(3), integer(100), num(0.5)), "ETIMEDOUT", "timed out")),
			after(1800*time.Millisecond, ok(call("sendline", fd(3), payload("quit")), integer(5))),
			ok(call("recvline", fd(3)), payload("bye")),
			ok(call("sendframe", fd(3), payload("x"), str("u16be")), integer(3)),
			ok(call("recvframe", fd(3), str("u16be")), payload("y")),
			ok(call("recvuntil", fd(3), payload("\r\n")), payload("ok\r\n")),
			ok(call("recvn", fd(3), integer(2)), payload("\x00\xff")),
			ok(call("shutdown", fd(3), str("wr")), boolean(true)),
			ok(call("recv", fd(3), integer(100)), payload("")),
			ok(call("close", fd(3)), boolean(true)),
		),
		replay: []step{
			{`socket("inet", "stream")`, ret(7)},
			{`setopt(7, "nodelay", true)`, ret(true)},
			{`getopt(7, "nodelay")`, ret(true)},
			{`getopt(7, "rcvbuf")`, ret(65536)},
			{`settimeout(7, 2.5)`, ret(true)},
			{`connect(7, "127.0.0.1:9000")`, ret(true)},
			{`getsockname(7)`, ret("127.0.0.1:40000")},
			{`getpeername(7)`, ret("127.0.0.1:9000")},
			{`send(7, "hello\n")`, ret(6)},
			{`recvn(7, 3)`, ret("wor")},
			{`recvn(7, 3, 0.5)`, ret("ld\n")},
			{`recv(7, 100, 0.5)`, ret(nil, "timed out", "ETIMEDOUT")},
			{`sendline(7, "quit")`, ret(5)},
			{`recvline(7)`, ret("bye")},
			{`sendframe(7, "x", "u16be")`, ret(3)},
			{`recvframe(7, "u16be")`, ret("y")},
			{`recvuntil(7, "\r\n")`, ret("ok\r\n")},
			{`recvn(7, 2)`, ret("\x00\xff")},
			{`shutdown(7, "wr")`, ret(true)},
			{`recv(7, 100)`, ret("")},
			{`close(7)`, ret(true)},
		},
	},
	{
		name: "server",
		events: []Event{
			ok(call("timeout", num(5)), boolean(true)),
			ok(call("socket", str("inet"), str("stream")), fd(3)),
			ok(call("setopt", fd(3), str("reuseaddr"), boolean(true)), boolean(true)),
			ok(call("bind", fd(3), addr("127.0.0.1:9000")), boolean(true)),
			ok(call("listen", fd(3), integer(128)), boolean(true)),
			ok(call("getsockname", fd(3)), addr("127.0.0.1:9000")),
			after(2*time.Second, ok(call("accept", fd(3)), fd(4), addr("127.0.0.1:51234"))),
			ok(call("getpeername", fd(4)), addr("127.0.0.1:51234")),
			ok(call("getsockname", fd(4)), addr("127.0.0.1:9000")),
			ok(call("recv", fd(4), integer(100)), payload("hello\n")),
			ok(call("recv", fd(4)), payload("GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")),
			ok(call("send", fd(4), payload("world\n")), integer(6)),
			inTask(2, ok(call("nonblock", fd(4), boolean(true)), boolean(true))),
			inTask(2, failed(call("recv", fd(4)), "EAGAIN", "resource temporarily unavailable")),
			ok(call("close", fd(4)), boolean(true)),
			ok(call("close", fd(3)), boolean(true)),
		},
		replay: []step{
			{`timeout(5)`, ret(true)},
			{`socket("inet", "stream")`, ret(5)},
			{`setopt(5, "reuseaddr", true)`, ret(true)},
			{`bind(5, "127.0.0.1:9000")`, ret(true)},
			{`listen(5, 128)`, ret(true)},
			{`getsockname(5)`, ret("127.0.0.1:9000")},
			{`accept(5)`, ret(6, "127.0.0.1:40000")},
			{`getpeername(6)`, ret("127.0.0.1:40000")},
			{`getsockname(6)`, ret("127.0.0.1:9000")},
			{`recvn(6, 6)`, ret("hello\n")},
			{`recvn(6, 50)`, ret("GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")},
			{`send(6, "world\n")`, ret(6)},
			{`nonblock(6, true)`, ret(true)},
			{`recv(6)`, ret(nil, "resource temporarily unavailable", "EAGAIN")},
			{`close(6)`, ret(true)},
			{`close(5)`, ret(true)},
		},
	},
	{
		name: "udp",
		events: []Event{
			ok(call("socket", str("inet"), str("dgram")), fd(3)),
			ok(call("bind", fd(3), addr("127.0.0.1:9000")), boolean(true)),
			ok(call("socket", str("inet"), str("dgram")), fd(4)),
			ok(call("sendto", fd(4), payload("ping"), addr("127.0.0.1:9000")), integer(4)),
			ok(call("recvfrom", fd(3), integer(100)), payload("ping"), addr("127.0.0.1:40000")),
			ok(call("sendto", fd(3), payload("pong"), addr("127.0.0.1:40000")), integer(4)),
			ok(call("recvfrom", fd(4), integer(100)), payload("pong"), addr("127.0.0.1:9000")),
			ok(call("sendto", fd(4), payload("two"), addr("127.0.0.1:9000")), integer(3)),
			ok(call("recv", fd(3), integer(2)), payload("tw")),
			ok(call("sendto", fd(4), payload("three"), addr("127.0.0.1:9000")), integer(5)),
			ok(call("recvfrom", fd(3)), payload("three"), addr("127.0.0.1:40000")),
			ok(call("socket", str("inet"), str("dgram")), fd(5)),
			ok(call("sendto", fd(5), payload("ping"), addr("127.0.0.1:9000")), integer(4)),
			ok(call("recvfrom", fd(3), integer(100)), payload("ping"), addr("127.0.0.1:40001")),
			ok(call("sendto", fd(3), payload("pong"), addr("127.0.0.1:40001")), integer(4)),
			ok(call("recvfrom", fd(5), integer(100), num(1)), payload("pong"), addr("127.0.0.1:9000")),
			ok(call("close", fd(5)), boolean(true)),
			ok(call("close", fd(4)), boolean(true)),
			ok(call("close", fd(3)), boolean(true)),
		},
		replay: []step{
			{`socket("inet", "dgram")`, ret(5)},
			{`bind(5, "127.0.0.1:9000")`, ret(true)},
			{`socket("inet", "dgram")`, ret(6)},
			{`sendto(6, "ping", "127.0.0.1:9000")`, ret(4)},
			{`recvfrom(5, 100)`, ret("ping", "127.0.0.1:50000")},
			{`sendto(5, "pong", "127.0.0.1:50000")`, ret(4)},
			{`recvfrom(6, 100)`, ret("pong", "127.0.0.1:9000")},
			{`sendto(6, "two", "127.0.0.1:9000")`, ret(3)},
			{`recv(5, 2)`, ret("tw")},
			{`sendto(6, "three", "127.0.0.1:9000")`, ret(5)},
			{`recvfrom(5)`, ret("three", "127.0.0.1:50000")},
			{`socket("inet", "dgram")`, ret(7)},
			{`sendto(7, "ping", "127.0.0.1:9000")`, ret(4)},
			{`recvfrom(5, 100)`, ret("ping", "127.0.0.1:50001")},
			{`sendto(5, "pong", "127.0.0.1:50001")`, ret(4)},
			{`recvfrom(7, 100, 1)`, ret("pong", "127.0.0.1:9000")},
			{`close(7)`, ret(true)},
			{`close(6)`, ret(true)},
			{`close(5)`, ret(true)},
		},
	},
	{
		name: "unix",
		events: []Event{
			ok(call("socket", str("unix"), str("stream")), fd(3)),
			ok(call("bind", fd(3), addr("/tmp/echo.sock")), boolean(true)),
			ok(call("listen", fd(3)), boolean(true)),
			ok(call("socket", str("unix"), str("stream")), fd(4)),
			ok(call("connect", fd(4), addr("/tmp/echo.sock")), boolean(true)),
			ok(call("accept", fd(3)), fd(5), addr("")),
			ok(call("send", fd(4), payload("hi")), integer(2)),
			ok(call("recv", fd(5)), payload("hi")),
			ok(call("getsockname", fd(3)), addr("/tmp/echo.sock")),
			ok(call("getsockname", fd(4)), addr("")),
			ok(call("getpeername", fd(4)), addr("/tmp/echo.sock")),
			ok(call("socket", str("unix"), str("dgram")), fd(6)),
			ok(call("bind", fd(6), addr("@echo")), boolean(true)),
			ok(call("socket", str("unix"), str("dgram")), fd(7)),
			ok(call("bind", fd(7), addr("/tmp/client.sock")), boolean(true)),
			ok(call("sendto", fd(7), payload("x"), addr("@echo")), integer(1)),
			ok(call("recvfrom", fd(6), integer(10)), payload("x"), addr("/tmp/client.sock")),
		},
		replay: []step{
			{`socket("unix", "stream")`, ret(10)},
			{`bind(10, "/tmp/echo.sock")`, ret(true)},
			{`listen(10)`, ret(true)},
			{`socket("unix", "stream")`, ret(11)},
			{`connect(11, "/tmp/echo.sock")`, ret(true)},
			{`accept(10)`, ret(12, "")},
			{`send(11, "hi")`, ret(2)},
			{`recvn(12, 2)`, ret("hi")},
			{`getsockname(10)`, ret("/tmp/echo.sock")},
			{`getsockname(11)`, ret("")},
			{`getpeername(11)`, ret("/tmp/echo.sock")},
			{`socket("unix", "dgram")`, ret(13)},
			{`bind(13, "@echo")`, ret(true)},
			{`socket("unix", "dgram")`, ret(14)},
			{`bind(14, "/tmp/client.sock")`, ret(true)},
			{`sendto(14, "x", "@echo")`, ret(1)},
			{`recvfrom(13, 10)`, ret("x", "/tmp/client.sock")},
		},
	},
	{
		name: "refused",
		events: []Event{
			failed(call("socket", str("inet"), str("raw")), "EINVAL", `type: expected "stream" or "dgram"`),
			ok(call("socket", str("inet"), str("stream")), fd(3)),
			failed(call("connect", fd(3), addr("127.0.0.1:1")), "ECONNREFUSED", "connection refused"),
			failed(call("accept", fd(3), num(0.25)), "EINVAL", "invalid argument"),
			ok(call("close", fd(3)), boolean(true)),
			failed(call("close", fd(42)), "EBADF", "bad file descriptor"),
		},
		replay: []step{
			{`socket("inet", "raw")`, ret(nil, "bad type", "EINVAL")},
			{`socket("inet", "stream")`, ret(8)},
			{`connect(8, "127.0.0.1:1")`, ret(nil, "connection refused", "ECONNREFUSED")},
			{`accept(8, 0.25)`, ret(nil, "invalid argument", "EINVAL")},
			{`close(8)`, ret(true)},
			{`close(42)`, ret(nil, "bad file descriptor", "EBADF")},
		},
	},
	{
		name: "reuse",
		events: []Event{
			ok(call("socket", str("inet"), str("stream")), fd(3)),
			ok(call("bind", fd(3), addr("127.0.0.1:9000")), boolean(true)),
			ok(call("listen", fd(3), integer(1)), boolean(true)),
			ok(call("socket", str("inet"), str("stream")), fd(4)),
			ok(call("connect", fd(4), addr("127.0.0.1:9000")), boolean(true)),
			ok(call("accept", fd(3)), fd(5), addr("127.0.0.1:51000")),
			ok(call("close", fd(5)), boolean(true)),
			ok(call("close", fd(4)), boolean(true)),
			ok(call("socket", str("inet"), str("dgram")), fd(4)),
			ok(call("connect", fd(4), addr("127.0.0.1:9000")), boolean(true)),
			ok(call("socket", str("inet"), str("stream")), fd(5)),
			ok(call("connect", fd(5), addr("127.0.0.1:9000")), boolean(true)),
			ok(call("accept", fd(3)), fd(4), addr("127.0.0.1:51002")),
			ok(call("send", fd(5), payload("abc")), integer(3)),
			ok(call("recv", fd(4)), payload("abc")),
		},
		replay: []step{
			{`socket("inet", "stream")`, ret(3)},
			{`bind(3, "127.0.0.1:9000")`, ret(true)},
			{`listen(3, 1)`, ret(true)},
			{`socket("inet", "stream")`, ret(4)},
			{`connect(4, "127.0.0.1:9000")`, ret(true)},
			{`accept(3)`, ret(5, "127.0.0.1:40000")},
			{`close(5)`, ret(true)},
			{`close(4)`, ret(true)},
			{`socket("inet", "dgram")`, ret(6)},
			{`connect(6, "127.0.0.1:9000")`, ret(true)},
			{`socket("inet", "stream")`, ret(4)},
			{`connect(4, "127.0.0.1:9000")`, ret(true)},
			{`accept(3)`, ret(5, "127.0.0.1:40002")},
			{`send(4, "abc")`, ret(3)},
			{`recvn(5, 3)`, ret("abc")},
		},
	},
	{
		name: "port0",
		events: []Event{
			ok(call("socket", str("inet"), str("stream")), fd(3)),
			ok(call("bind", fd(3), addr("127.0.0.1:0")), boolean(true)),
			ok(call("listen", fd(3)), boolean(true)),
			ok(call("getsockname", fd(3)), addr("127.0.0.1:41234")),
			ok(call("socket", str("inet"), str("stream")), fd(4)),
			ok(call("connect", fd(4), addr("127.0.0.1:41234")), boolean(true)),
			ok(call("getpeername", fd(4)), addr("127.0.0.1:41234")),
			ok(call("accept", fd(3)), fd(5), addr("127.0.0.1:51000")),
			ok(call("socket", str("inet6"), str("stream")), fd(6)),
			ok(call("bind", fd(6), addr("[::]:0")), boolean(true)),
			ok(call("listen", fd(6)), boolean(true)),
			ok(call("getsockname", fd(6)), addr("[::]:42000")),
			ok(call("socket", str("inet6"), str("stream")), fd(7)),
			ok(call("connect", fd(7), addr("[::1]:42000")), boolean(true)),
			ok(call("getpeername", fd(7)), addr("[::1]:42000")),
		},
		replay: []step{
			{`socket("inet", "stream")`, ret(3)},
			{`bind(3, "127.0.0.1:0")`, ret(true)},
			{`listen(3)`, ret(true)},
			{`getsockname(3)`, ret("127.0.0.1:38000")},
			{`socket("inet", "stream")`, ret(4)},
			{`connect(4, "127.0.0.1:38000")`, ret(true)},
			{`getpeername(4)`, ret("127.0.0.1:38000")},
			{`accept(3)`, ret(5, "127.0.0.1:51999")},
			{`socket("inet6", "stream")`, ret(6)},
			{`bind(6, "[::]:0")`, ret(true)},
			{`listen(6)`, ret(true)},
			{`getsockname(6)`, ret("[::]:39000")},
			{`socket("inet6", "stream")`, ret(7)},
			{`connect(7, "[::1]:39000")`, ret(true)},
			{`getpeername(7)`, ret("[::1]:39000")},
		},
	},
}

func TestGolden(t *testing.T) {
	for _, tc := range sessions {
		t.Run(tc.name, func(t *testing.T) {
			got := script(t, header, tc.events)
			file := filepath.Join("testdata", tc.name+".lua")
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("script differs from %s (go test -update rewrites it):\n%s", file, got)
			}
			compile(t, got)
			if err := replay(got, tc.replay); err != nil {
				t.Errorf("replay: %v\n%s", err, got)
			}
		})
	}
}

// TestReplayDiverges checks that the scripts do check: a replay in which
// the data, an error or a kernel-chosen address differs from the recording
// stops at the line of the call.
func TestReplayDiverges(t *testing.T) {
	server := sessions[1]
	s := script(t, header, server.events)
	for _, tc := range []struct {
		name string
		step int // the step to change
		ret  []any
		want string
	}{
		{"data", 9, []any{"hellO\n"}, `:15: expected "hello\n", got "hellO\n"`},
		{"address", 5, []any{"127.0.0.1:9001"}, `:10: expected "127.0.0.1:9000", got "127.0.0.1:9001"`},
		{"error instead of success", 9, []any{nil, "connection reset by peer", "ECONNRESET"}, `:15: expected "hello\n", got nil`},
		{"success instead of error", 13, []any{"late"}, `:39: expected EAGAIN, got "late"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := append([]step(nil), server.replay...)
			steps[tc.step].ret = ret(tc.ret...)
			err := replay(s, steps)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("replay error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestPauses(t *testing.T) {
	got := script(t, header, []Event{
		after(49*time.Millisecond, ok(call("socket", str("inet"), str("stream")), fd(3))),
		after(3*time.Second, ok(call("close", fd(3)), boolean(true))),
		after(3040*time.Millisecond, ok(call("socket", str("inet"), str("stream")), fd(3))),
		after(3090*time.Millisecond, ok(call("close", fd(3)), boolean(true))),
	})
	body := got[strings.Index(got, "strict(true)\n"):]
	want := `strict(true)
local fd3 = socket("inet", "stream")
at(3.000)
close(fd3)
fd3 = socket("inet", "stream")
at(3.090)
close(fd3)
-- end of recording: 4 calls in 3.090s
`
	if body != want {
		t.Errorf("got\n%s\nwant\n%s", body, want)
	}
}

func TestHeader(t *testing.T) {
	got := script(t, Header{
		Time:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Command: []string{"sockshell", "--record", "my session.lua", "-e", "x = 1\nos.execute('touch /tmp/pwned')", "it's", ""},
	}, nil)
	want := `-- sockshell session recorded 2026-01-02T03:04:05Z
-- by sockshell (version unknown), run as: sockshell --record 'my session.lua' -e $'x = 1\nos.execute(\'touch /tmp/pwned\')' 'it'\''s' ''
-- Replay: sockshell FILE (with --realtime, at() keeps the recorded pauses).
strict(true)
-- end of recording: 0 calls in 0.000s
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestManySockets records a thousand sockets open at once, more than Lua
// allows locals, and replays them with other descriptor numbers.
func TestManySockets(t *testing.T) {
	const n = 1000
	var events []Event
	var steps []step
	for i := 3; i < 3+n; i++ {
		events = append(events,
			ok(call("socket", str("inet"), str("stream")), fd(i)),
			ok(call("bind", fd(i), addr("127.0.0.1:0")), boolean(true)),
			ok(call("getsockname", fd(i)), addr(fmt.Sprintf("127.0.0.1:%d", 20000+i))))
		steps = append(steps,
			step{`socket("inet", "stream")`, ret(i + 5000)},
			step{fmt.Sprintf(`bind(%d, "127.0.0.1:0")`, i+5000), ret(true)},
			step{fmt.Sprintf(`getsockname(%d)`, i+5000), ret(fmt.Sprintf("127.0.0.1:%d", 40000+i))})
	}
	for i := 3; i < 3+n; i++ {
		events = append(events,
			ok(call("sendto", fd(i), payload("x"), addr(fmt.Sprintf("127.0.0.1:%d", 20000+(i+1)%n+3))), integer(1)),
			ok(call("close", fd(i)), boolean(true)))
		steps = append(steps,
			step{fmt.Sprintf(`sendto(%d, "x", "127.0.0.1:%d")`, i+5000, 40000+(i+1)%n+3), ret(1)},
			step{fmt.Sprintf(`close(%d)`, i+5000), ret(true)})
	}
	s := script(t, header, events)
	for _, want := range []string{
		"local fd3 = socket(",
		"local addr3 = getsockname(fd3)",
		"local fd, addr, from, data = {}, {}, {}\n",
		"fd[1002] = socket(",
		"addr[1002] = getsockname(fd[1002])",
		`sendto(fd[1002], "x", addr6)`,
		`sendto(fd[996], "x", addr[1000])`,
		"\nend)()\n-- end of recording",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	compile(t, s)
	if err := replay(s, steps); err != nil {
		t.Error(err)
	}
}

// TestLongRecording records many different payloads, more constants than a
// Lua function should hold, and replays them.
func TestLongRecording(t *testing.T) {
	events := []Event{ok(call("socket", str("inet"), str("stream")), fd(3))}
	steps := []step{{`socket("inet", "stream")`, ret(4)}}
	for i := range 3000 {
		data := fmt.Sprintf("message %d\n", i)
		events = append(events, ok(call("recv", fd(3)), payload(data)))
		steps = append(steps, step{fmt.Sprintf(`recvn(4, %d)`, len(data)), ret(data)})
	}
	events = append(events, ok(call("close", fd(3)), boolean(true)))
	steps = append(steps, step{"close(4)", ret(true)})
	s := script(t, header, events)
	if parts := strings.Count(s, ";(function()"); parts < 3000/maxConsts {
		t.Errorf("script has %d parts, want at least %d", parts, 3000/maxConsts)
	}
	compile(t, s)
	if err := replay(s, steps); err != nil {
		t.Error(err)
	}
}

// TestUnbuffered checks that every call reaches the underlying writer at
// once, in one Write.
func TestUnbuffered(t *testing.T) {
	var out writes
	w, err := NewWriter(&out, header)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || !strings.HasSuffix(out[0], "strict(true)\n") {
		t.Fatalf("after NewWriter: %q", out)
	}
	if err := w.Write(ok(call("socket", str("inet"), str("dgram")), fd(3))); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ok(call("recvfrom", fd(3)), payload("x"), addr("127.0.0.1:4000"))); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"local fd3 = socket(\"inet\", \"dgram\")\n",
		"local data, from3 = recvfrom(fd3)       -- from 127.0.0.1:4000\nexpect(data, \"x\")\n",
	}
	if got := out[1:]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("writes: got %q, want %q", got, want)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ok(call("close", fd(3)), boolean(true))); err == nil {
		t.Error("Write after Close succeeded")
	}
}

type writes []string

func (w *writes) Write(p []byte) (int, error) {
	*w = append(*w, string(p))
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	full := errors.New("no space left on device")
	w, err := NewWriter(failing{full}, header)
	if !errors.Is(err, full) {
		t.Fatalf("NewWriter: got %v, want %v", err, full)
	}
	if err := w.Write(ok(call("close", fd(3)), boolean(true))); !errors.Is(err, full) {
		t.Errorf("Write: got %v, want %v", err, full)
	}
	if err := w.Close(); !errors.Is(err, full) {
		t.Errorf("Close: got %v, want %v", err, full)
	}
}

type failing struct{ err error }

func (f failing) Write([]byte) (int, error) { return 0, f.err }

func TestHostileData(t *testing.T) {
	for _, s := range hostile {
		got := roundTrip(t, s)
		if len(got) != 3 || got[0] != s || got[1] != s || got[2] != s {
			t.Errorf("%q came back as %q", s, got)
		}
	}
}

// TestRecvPastMaxRecv: a recv that got more than a replay's recvn takes by
// default is replayed with a LIMIT of its own; maxrecv is replayed too.
func TestRecvPastMaxRecv(t *testing.T) {
	big := strings.Repeat("x", maxRecv+1)
	events := timeline(
		ok(call("socket", str("inet"), str("stream")), fd(3)),
		ok(call("maxrecv", integer(8<<20)), num(8<<20)),
		ok(call("recv", fd(3), integer(16<<20)), payload(big)),
		ok(call("recv", fd(3), integer(16<<20), num(2)), payload(big)),
		ok(call("recv", fd(3)), payload("small")),
	)
	steps := []step{
		{`socket("inet", "stream")`, ret(4)},
		{`maxrecv(8388608)`, ret(8388608)},
		{fmt.Sprintf(`recvn(4, %d, nil, %d)`, len(big), len(big)), ret(big)},
		{fmt.Sprintf(`recvn(4, %d, 2, %d)`, len(big), len(big)), ret(big)},
		{`recvn(4, 5)`, ret("small")},
	}
	s := script(t, header, events)
	compile(t, s)
	if err := replay(s, steps); err != nil {
		t.Error(err)
	}
}
