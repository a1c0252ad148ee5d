// Command bench is sockshell's benchmark suite: it measures sockshell side by
// side with the programs docs/DESIGN.md (Performance) compares it to (C, LuaSocket on PUC Lua
// 5.1, Python, socat, lua5.1 start-up) and prints medians, ratios and
// PASS/MISS per target.
//
//	go run ./bench            # the full suite, 5 runs of each contender
//	go run ./bench -quick     # everything tiny: shows it works in seconds
//	go run ./bench -n 9 -only pingpong,bulk
//
// It builds sockshell from the module it is run in, installs missing peers
// with apt-get when running as root, and exits non-zero only if something
// failed to run, never because a target was missed. See bench/README.md.
package main

import (
	"embed"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// sources holds the programs the suite runs: the sockshell scripts (lua/) and
// the other contenders and peers (peers/). They are written to a temporary
// directory at start, so the suite runs from any working directory.
//
//go:embed lua peers
var sources embed.FS

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// benchmarks in the order they run; each name is also an -only word.
var benchmarks = []struct {
	name string
	run  func(*suite) *section
}{
	{"pingpong", (*suite).pingpong},
	{"bulk", (*suite).bulk},
	{"startup", (*suite).startup},
	{"conns", (*suite).conns},
	{"replay", (*suite).replay},
	{"replay", (*suite).replayDistinct},
	{"tls", (*suite).tlsBulk},
}

// sizes are the work each benchmark does per run.
type sizes struct {
	roundTrips   int   // ping-pong round trips
	bulkBytes    int64 // bytes sent by the bulk benchmark
	bulkChunk    int   // bytes per send
	startupExecs int   // start-ups of each contender per run
	conns        int   // concurrent connections
	replayCalls  int   // calls in the recorded script
	timeout      time.Duration
}

var fullSizes = sizes{
	roundTrips:   100000,
	bulkBytes:    1 << 30,
	bulkChunk:    64 << 10,
	startupExecs: 20,
	conns:        10000,
	replayCalls:  100000,
	timeout:      5 * time.Minute,
}

var quickSizes = sizes{
	roundTrips:   2000,
	bulkBytes:    16 << 20,
	bulkChunk:    64 << 10,
	startupExecs: 3,
	conns:        200,
	replayCalls:  2000,
	timeout:      time.Minute,
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runs := fs.Int("n", 5, "runs of each contender (alternated run by run)")
	quick := fs.Bool("quick", false, "tiny sizes and 1 run unless -n is given, to show the suite works in seconds")
	only := fs.String("only", "", "comma-separated benchmarks to run (pingpong,bulk,startup,conns,replay,tls); default all")
	bin := fs.String("sockshell", "", "use this sockshell binary instead of building ./cmd/sockshell")
	verbose := fs.Bool("v", false, "print every run's figures")
	keep := fs.Bool("keep", false, "keep the temporary directory (binaries, recordings) and print its path")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [-n RUNS] [-quick] [-only LIST] [-sockshell BIN] [-v] [-keep]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	nSet := false
	fs.Visit(func(f *flag.Flag) { nSet = nSet || f.Name == "n" })

	s := &suite{out: stdout, log: stderr, runs: *runs, verbose: *verbose, size: fullSizes}
	if *quick {
		s.size = quickSizes
		s.quick = true
		if !nSet {
			s.runs = 1
		}
	}
	if s.runs < 1 {
		fmt.Fprintln(stderr, "bench: -n must be at least 1")
		return 2
	}
	selected := map[string]bool{}
	if *only != "" {
		known := map[string]bool{}
		for _, b := range benchmarks {
			known[b.name] = true
		}
		for _, w := range strings.Split(*only, ",") {
			w = strings.TrimSpace(w)
			if !known[w] {
				fmt.Fprintf(stderr, "bench: unknown benchmark %q in -only\n", w)
				return 2
			}
			selected[w] = true
		}
	}

	work, err := os.MkdirTemp("", "sockshell-bench-")
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	s.work = work
	if *keep {
		fmt.Fprintln(stderr, "bench: keeping", work)
	} else {
		defer os.RemoveAll(work)
	}

	if err := s.setup(*bin); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	s.printHeader()
	var sections []*section
	for _, b := range benchmarks {
		if len(selected) > 0 && !selected[b.name] {
			continue
		}
		sec := b.run(s)
		sec.print(s.out)
		sections = append(sections, sec)
	}
	s.printSummary(sections)
	if len(s.failures) > 0 {
		fmt.Fprintf(stdout, "\n%d failure(s) to run:\n", len(s.failures))
		for _, f := range s.failures {
			fmt.Fprintf(stdout, "  - %s\n", f)
		}
		return 1
	}
	return 0
}
