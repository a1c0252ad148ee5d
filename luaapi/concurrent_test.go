package luaapi

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// TestRuntimesConcurrently: two Runtimes in two goroutines share nothing
// (run with -race): each does one-byte sends and receives on the fast
// path, which returns values boxed once per Runtime, and waits through
// its own scheduler.
func TestRuntimesConcurrently(t *testing.T) {
	var wg sync.WaitGroup
	errs := make([]string, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt, err := New(Config{})
			if err != nil {
				errs[i] = err.Error()
				return
			}
			defer rt.Close()
			fn, err := rt.Load(fmt.Sprintf(`
				local l = socket("unix", "stream")
				bind(l, "@concurrent-%d-%d") listen(l)
				local a = socket("unix", "stream")
				connect(a, "@concurrent-%d-%d")
				local b = accept(l)
				local echo = spawn(function()
					for _ = 1, 500 do send(b, recv(b, 1)) end
				end)
				for n = 1, 500 do
					local c = string.char(n %% 256)
					expect(send(a, c), 1)
					expect(recv(a, 1, 5), c)
				end
				wait(echo)
				return "done"`, os.Getpid(), i, os.Getpid(), i), "concurrent")
			if err != nil {
				errs[i] = err.Error()
				return
			}
			task := rt.Spawn("main", fn)
			rt.RunUntil(task.Done)
			if task.Err() != "" {
				errs[i] = task.Err()
			}
		}()
	}
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			t.Errorf("runtime %d: %s", i, e)
		}
	}
}
