package luaapi

import (
	"runtime"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// TestTaskMemory holds the live memory of a task waiting in wait() to
// what 20,000 connections per process can afford (README, Performance):
// a task's registry of 128 slots made it ~4.6 KB.
func TestTaskMemory(t *testing.T) {
	s := newSession(t, Config{})
	const n = 2000
	var before, after runtime.MemStats
	measure := func(m *runtime.MemStats) lua.LGFunction {
		return func(*lua.LState) int {
			// Objects with finalizers or cleanups (other tests' sockets
			// and files) are freed only by the collection after the one
			// that ran them: collect until the heap stops shrinking.
			runtime.GC()
			for i, prev := 0, uint64(0); i < 10; i++ {
				runtime.GC()
				runtime.ReadMemStats(m)
				if m.HeapAlloc == prev {
					break
				}
				prev = m.HeapAlloc
			}
			return 0
		}
	}
	s.rt.ls.SetGlobal("before", s.rt.ls.NewFunction(measure(&before)))
	s.rt.ls.SetGlobal("after", s.rt.ls.NewFunction(measure(&after)))
	s.ok(`
		local started, open = 0, false
		local gate = spawn(function() while not open do sleep(0.01) end end)
		local function task(i)
			local msg = "hello " .. i
			started = started + 1
			wait(gate)
			return msg
		end
		local tasks = {}
		for i = 1, 100 do tasks[i] = spawn(task, i) end -- the scheduler's own growth
		while started < 100 do sleep(0.01) end
		before()
		for i = 101, 100 + ` + itoa(n) + ` do tasks[i] = spawn(task, i) end
		while started < 100 + ` + itoa(n) + ` do sleep(0.01) end
		after()
		open = true
		for i = 1, #tasks do assert(wait(tasks[i]) == "hello " .. i) end
	`)
	per := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
	if limit := 3000.0 * memoryFactor; per > limit {
		t.Errorf("a waiting task holds %.0f bytes, want at most %.0f", per, limit)
	}
	t.Logf("a waiting task holds %.0f bytes", per)
}

// TestTaskDeepRecursion: a task's registry starts small and grows as deep
// calls need it.
func TestTaskDeepRecursion(t *testing.T) {
	s := newSession(t, Config{})
	s.ok(`
		local function sum(n)
			if n == 0 then return 0 end
			local a, b, c = n, n * 2, n * 3
			return a + sum(n - 1) + c - b - a + a
		end
		local task = spawn(function() return sum(150) end)
		assert(wait(task) == 150 * 151, "deep recursion in a task")
	`)
}
