package repl

import (
	"bytes"
	"os"
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
	status := New(rt, Config{In: strings.NewReader(input), Out: out, Err: out}).Run()
	return out.String(), status
}

func pid() int { return os.Getpid() }
