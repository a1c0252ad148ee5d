// Command sockshell is a scriptable network REPL: type the BSD socket calls
// one at a time on real kernel sockets, or run Lua scenario scripts that act
// out whole client/server sessions.
//
// The runtime's cgroup CPU-quota reader would hold descriptors 3 and 4 open;
// it is off so that a session's first socket is fd 3, as in every tutorial.
//
//go:debug containermaxprocs=0
package main

import (
	"os"
	"runtime"

	"sockshell/internal/gcpace"
)

func main() {
	singleProc()
	gcpace.Start() // for the process's life
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// singleProc runs Go code on one processor unless GOMAXPROCS says
// otherwise. sockshell's work is one goroutine that owns the Lua state and
// makes non-blocking syscalls; the others (the line reader, the signal
// watcher) mostly sleep. With more processors, each time the runtime
// preempts the busy goroutine (every 10 ms) or it waits in epoll, idle
// threads wake to look for work and may take it to another CPU: on a
// two-core machine that costs a call-heavy script a few per cent, and a
// script that waits on every call (an echo client) over ten.
func singleProc() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}
