// Command sockshell is a scriptable network REPL: type the BSD socket calls
// one at a time on real kernel sockets, or run Lua scenario scripts that act
// out whole client/server sessions.
//
// The runtime's cgroup CPU-quota reader would hold descriptors 3 and 4 open;
// it is off so that a session's first socket is fd 3, as in every tutorial.
//
//go:debug containermaxprocs=0
package main

import "os"

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
