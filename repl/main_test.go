package repl

import (
	"bytes"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"sockshell/luaapi"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newRuntime returns a runtime as piped input gets it (10 s default
// timeout), closed when the test ends.
func newRuntime(t testing.TB) (*luaapi.Runtime, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	rt, err := luaapi.New(luaapi.Config{Stdout: &out, Stderr: &out, DefaultTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	return rt, &out
}

// shell runs input through a shell on rt and returns what it printed and
// its exit status.
func shell(t testing.TB, rt *luaapi.Runtime, out *bytes.Buffer, input string) (string, int) {
	t.Helper()
	out.Reset()
	done := make(chan int, 1)
	go func() { done <- New(rt, Config{In: strings.NewReader(input), Out: out, Err: out}).Run() }()
	select {
	case status := <-done:
		return out.String(), status
	case <-time.After(shellDeadline):
		// Under the fuzzer a hang is only "terminated unexpectedly":
		// say where every goroutine is before the worker is killed.
		var stacks strings.Builder
		pprof.Lookup("goroutine").WriteTo(&stacks, 2)
		t.Fatalf("the shell has not ended %v after its input %q:\n%s", shellDeadline, input, stacks.String())
		return "", 0
	}
}

// shellDeadline is how long a test's shell may run: less than the 10 s
// after which the fuzzer kills a worker that does not answer.
const shellDeadline = 8 * time.Second

func pid() int { return os.Getpid() }
