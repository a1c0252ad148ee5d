package record

import (
	"strings"
	"testing"
)

// TestWorkers records a session that starts worker processes: the socket
// pair and the list of descriptors handed down are variables, the list of
// workers is pools[1] and its wait is checked, and what the workers say on
// the socket pair is made but not checked; on the session's own pairs it
// is checked.
func TestWorkers(t *testing.T) {
	events := timeline(
		ok(call("socket", str("inet"), str("stream")), fd(3)),
		ok(call("listen", fd(3)), boolean(true)),
		ok(call("socketpair", str("unix"), str("dgram")), fd(4), fd(5)),
		ok(call("workers", integer(2), str("w.lua"), Value{FDList, []int{3, 5}}, str("tasks")), integer(-1)),
		ok(call("close", fd(5)), boolean(true)),
		ok(call("recv", fd(4)), payload("ready 2")),
		ok(call("recv", fd(4)), payload("ready 1")),
		ok(call("sendfd", fd(4), fd(3), payload("conn")), integer(4)),
		ok(call("socketpair", str("unix"), str("stream")), fd(5), fd(6)),
		ok(call("recvfd", fd(5)), fd(7), payload("x")),
		ok(call("recv", fd(5)), payload("y")),
		ok(call("wait", integer(-1)), boolean(true)),
		failed(call("wait", integer(-1), num(0.5)), "ETIMEDOUT", "timed out"),
		ok(call("close", fd(4)), boolean(true)),
	)
	got := script(t, header, events)
	for _, want := range []string{
		"\nlocal fd4, fd5 = socketpair(\"unix\", \"dgram\")\n",
		"\n  pools[1] = workers(2, \"w.lua\", {fd3, fd5}, \"tasks\")\n",
		"\n  recv(fd4)                             -- a worker's, not checked: \"ready 2\"\n",
		"\n  recv(fd4)                             -- a worker's, not checked: \"ready 1\"\n",
		"\n  sendfd(fd4, fd3, \"conn\")\n",
		"\n  fd[7] = recvfd(fd[\"5.2\"])             -- with \"x\"\n",
		"\n  expect(recvn(fd[\"5.2\"], 1), \"y\")\n", // a pair of the session's own: checked
		"\n  wait(pools[1])\n",
		"\n  fails(\"ETIMEDOUT\", wait, pools[1], 0.5)  -- timed out\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the recording has no %q:\n%s", strings.TrimSpace(want), got)
		}
	}
	compile(t, got)
}

// TestInOrderOlderRecordings reads in order, as the mock does, a recording
// made before the task prelude declared pools.
func TestInOrderOlderRecordings(t *testing.T) {
	if taskPreludeV1 == taskPrelude {
		t.Fatal("taskPreludeV1 is taskPrelude: the declaration it replaces is not there")
	}
	for _, prelude := range []string{taskPrelude, taskPreludeV1} {
		got := InOrder("strict(true)\n" + prelude + "run(0) finish()\n")
		if want := "strict(true)\n" + inOrder + "run(0) finish()\n"; got != want {
			t.Errorf("InOrder left the prelude:\n%s", got)
		}
	}
}
