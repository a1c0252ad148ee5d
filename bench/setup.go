package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// suite is one run of the benchmark suite: its settings, the programs it
// found or built, and the failures it met. Not safe for concurrent use.
type suite struct {
	out, log io.Writer
	runs     int
	quick    bool
	verbose  bool
	size     sizes
	work     string // temporary directory: sources, binaries, recordings

	sockshell string // the binary as installed (static); "" when it could not be built
	noShell   string // why there is no sockshell binary
	// sockshellCgo is the binary as a plain go build makes it where a C
	// compiler is found (cgo on, dynamically linked), for start-up; "" when
	// the suite was given a binary or the build failed.
	sockshellCgo string
	noTasks      string // why tasks (spawn/wait/sleep) cannot be used; "" if they can
	noRecord     string // why --record cannot be used; "" if it can

	// nofileMax is the hard RLIMIT_NOFILE the suite was started with: the
	// machine's per-process descriptor limit, which sizes the largest
	// connections case (0 if unknown).
	nofileMax uint64

	tools    map[string]string // peer name ("gcc", "lua5.1", ...) -> path
	missing  map[string]string // peer name -> why it is not there
	versions []string          // peers' versions, for the header

	pingpongC string // compiled C contender; "" if gcc is missing
	echoC     string // compiled echo peer; "" if gcc is missing

	failures []string
}

// fail records that something failed to run; the suite then exits 1.
func (s *suite) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.failures = append(s.failures, msg)
	fmt.Fprintln(s.log, "bench: FAILED:", msg)
}

// logf prints progress to stderr, so stdout stays the report.
func (s *suite) logf(format string, args ...any) {
	fmt.Fprintf(s.log, "bench: "+format+"\n", args...)
}

// file returns the path of one of the embedded sources, e.g. "lua/bulk.lua".
func (s *suite) file(name string) string {
	return filepath.Join(s.work, "src", filepath.FromSlash(name))
}

func (s *suite) setup(bin string) error {
	if err := s.writeSources(); err != nil {
		return err
	}
	raiseNofile(s)
	s.findPeers()
	s.compilePeers()
	s.buildSockshell(bin)
	if s.sockshell != "" {
		s.probeSockshell()
	}
	return nil
}

func (s *suite) writeSources() error {
	return fs.WalkDir(sources, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := s.file(path)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := sources.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
}

// raiseNofile lifts RLIMIT_NOFILE so the children (which inherit it) can hold
// the concurrent-connections benchmark's sockets. Go restores the original
// soft limit for children unless the program calls Setrlimit itself, as here.
func raiseNofile(s *suite) {
	const want = 65536
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		s.logf("getrlimit: %v", err)
		return
	}
	s.nofileMax = lim.Max
	if lim.Cur >= want {
		return
	}
	raised := lim
	raised.Cur = want
	if raised.Max < want {
		raised.Max = want
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
		// Not root: go as far as the hard limit allows.
		raised = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		if err2 := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err2 != nil {
			s.logf("setrlimit NOFILE: %v", err)
			return
		}
		s.logf("open-file limit for the children: %d (the hard limit; raising it to %d: %v)", lim.Max, want, err)
	}
}

// peers: what the suite runs besides sockshell, and the Debian packages that
// provide each.
var peers = []struct {
	name     string
	packages []string
	check    []string // a command that must succeed when the peer works
}{
	{"gcc", []string{"gcc", "libc6-dev"}, []string{"gcc", "--version"}},
	{"lua5.1", []string{"lua5.1", "lua-socket"}, []string{"lua5.1", "-e", `require "socket"`}},
	{"python3", []string{"python3"}, []string{"python3", "-c", "import socket"}},
	{"socat", []string{"socat"}, []string{"socat", "-V"}},
}

func peerWorks(check []string) bool {
	if _, err := exec.LookPath(check[0]); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, check[0], check[1:]...).Run() == nil
}

// findPeers looks for each peer and, when some are missing and the suite runs
// as root, installs them from Debian with apt-get. A peer still missing after
// that is skipped, with the reason kept for the report.
func (s *suite) findPeers() {
	s.tools = map[string]string{}
	s.missing = map[string]string{}
	var absent []string
	var pkgs []string
	for _, p := range peers {
		if !peerWorks(p.check) {
			absent = append(absent, p.name)
			pkgs = append(pkgs, p.packages...)
		}
	}
	if len(absent) > 0 {
		reason := ""
		switch {
		case os.Geteuid() != 0:
			reason = "not installed, and not running as root to apt-get install it"
		default:
			if _, err := exec.LookPath("apt-get"); err != nil {
				reason = "not installed, and no apt-get to install it"
				break
			}
			s.logf("installing %s with apt-get", strings.Join(pkgs, " "))
			if out, err := aptInstall(pkgs); err != nil {
				reason = "apt-get install failed: " + lastLine(out)
			}
		}
		if reason != "" {
			s.logf("missing peers %s: %s", strings.Join(absent, ", "), reason)
		}
		for _, p := range peers {
			if contains(absent, p.name) && !peerWorks(p.check) {
				r := reason
				if r == "" {
					r = "still not working after apt-get install " + strings.Join(p.packages, " ")
				}
				s.missing[p.name] = r
			}
		}
	}
	for _, p := range peers {
		if _, ok := s.missing[p.name]; !ok {
			path, _ := exec.LookPath(p.check[0])
			s.tools[p.name] = path
		}
	}
	// Run the interpreter itself, not a wrapper such as pyenv's shim script,
	// whose own start-up would count in the wall times.
	if s.tools["python3"] != "" {
		out, err := exec.Command(s.tools["python3"], "-c", "import sys; print(sys.executable)").Output()
		if exe := strings.TrimSpace(string(out)); err == nil && exe != "" {
			s.tools["python3"] = exe
		}
	}
	s.versions = peerVersions(s.tools)
}

func aptInstall(pkgs []string) (string, error) {
	apt := func(args ...string) (string, error) {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	args := append([]string{"install", "-y", "-qq", "--no-install-recommends"}, pkgs...)
	out, err := apt(args...)
	if err == nil {
		return out, nil
	}
	// The package lists may be missing or stale: refresh them once and retry.
	if out2, err2 := apt("update", "-qq"); err2 != nil {
		return out2, err2
	}
	return apt(args...)
}

func peerVersions(tools map[string]string) []string {
	first := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	var v []string
	if tools["gcc"] != "" {
		v = append(v, "gcc "+first("gcc", "-dumpfullversion"))
	}
	if tools["lua5.1"] != "" {
		lua := strings.Join(strings.Fields(first("lua5.1", "-v")), " ")
		lua = strings.TrimSuffix(strings.SplitN(lua, " Copyright", 2)[0], " ")
		v = append(v, lua+" + "+first("lua5.1", "-e", `print(require("socket")._VERSION)`))
	}
	if tools["python3"] != "" {
		v = append(v, first("python3", "--version"))
	}
	if tools["socat"] != "" {
		// "socat version 1.7.4.4 on 06 Nov 2022 08:15:51"
		if f := strings.Fields(secondLine("socat", "-V")); len(f) >= 3 {
			v = append(v, "socat "+f[2])
		}
	}
	return v
}

func secondLine(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	lines := strings.Split(string(out), "\n")
	if len(lines) < 2 {
		return ""
	}
	return lines[1]
}

// compilePeers builds the C contender and the C echo peer with gcc -O2.
func (s *suite) compilePeers() {
	if s.tools["gcc"] == "" {
		return
	}
	for _, c := range []struct {
		src string
		dst *string
	}{
		{"peers/pingpong.c", &s.pingpongC},
		{"peers/echo.c", &s.echoC},
	} {
		out := filepath.Join(s.work, strings.TrimSuffix(filepath.Base(c.src), ".c"))
		cmd := exec.Command(s.tools["gcc"], "-O2", "-o", out, s.file(c.src))
		if b, err := cmd.CombinedOutput(); err != nil {
			s.fail("gcc -O2 %s: %v: %s", c.src, err, lastLine(string(b)))
			continue
		}
		*c.dst = out
	}
}

// buildSockshell builds ./cmd/sockshell of the module the suite runs in, or
// takes the binary given with -sockshell.
func (s *suite) buildSockshell(bin string) {
	if bin != "" {
		abs, err := filepath.Abs(bin)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			s.noShell = "-sockshell " + bin + ": " + err.Error()
			s.fail("%s", s.noShell)
			return
		}
		s.sockshell = abs
		return
	}
	root, err := moduleRoot()
	if err != nil {
		s.noShell = err.Error()
		s.fail("%s", s.noShell)
		return
	}
	// The binary as the README installs it: CGO_ENABLED=0, a static binary
	// that does not load libc (which costs about a millisecond at start-up).
	out := filepath.Join(s.work, "sockshell")
	s.logf("building sockshell: CGO_ENABLED=0 go build -o %s ./cmd/sockshell, and a cgo build", out)
	if err := goBuild(root, out, "CGO_ENABLED=0"); err != nil {
		s.noShell = err.Error()
		s.fail("%s", s.noShell)
		return
	}
	s.sockshell = out
	cgo := filepath.Join(s.work, "sockshell-cgo")
	if err := goBuild(root, cgo, ""); err != nil {
		s.fail("%s", err)
		return
	}
	s.sockshellCgo = cgo
}

// goBuild builds ./cmd/sockshell of the module in root as out, with env
// (one VAR=value, or "") added to the environment.
func goBuild(root, out, env string) error {
	cmd := exec.Command("go", "build", "-o", out, "./cmd/sockshell")
	cmd.Dir = root
	cmd.Env = os.Environ()
	if env != "" {
		cmd.Env = append(cmd.Env, env)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s go build ./cmd/sockshell failed: %s", env, lastLine(string(b)))
	}
	return nil
}

// moduleRoot finds the directory of the sockshell module's go.mod, from the
// working directory upwards.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module sockshell")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the sockshell module (go.mod) above the working directory; run from the module or pass -sockshell BIN")
		}
		dir = parent
	}
}

// probeSockshell checks the features the benchmarks need, so a missing one
// makes its benchmark "skipped" instead of failed.
func (s *suite) probeSockshell() {
	probe := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, s.sockshell, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%v: %s", err, firstLine(out.String()))
		}
		return nil
	}
	if err := probe("-e", "x=1"); err != nil {
		s.noShell = "sockshell -e 'x=1' failed: " + err.Error()
		s.fail("%s", s.noShell)
		s.sockshell = ""
		return
	}
	if err := probe("-e", `assert(type(spawn) == "function" and type(wait) == "function" and type(sleep) == "function" and type(now) == "function", "spawn/wait/sleep/now missing")
local t = spawn(function(x) sleep(0.001) return x + 1 end, 1)
assert(wait(t) == 2, "wait did not return the task's value")`); err != nil {
		s.noTasks = "tasks do not work yet (" + err.Error() + ")"
	}
	script := filepath.Join(s.work, "record_probe.lua")
	rec := filepath.Join(s.work, "record_probe.rec.lua")
	if err := os.WriteFile(script, []byte(`local fd = assert(socket("inet", "stream"))
assert(close(fd))
`), 0o644); err != nil {
		s.noRecord = err.Error()
		return
	}
	if err := probe("--record", rec, script); err != nil {
		s.noRecord = "sockshell --record does not work yet (" + err.Error() + ")"
		return
	}
	if fi, err := os.Stat(rec); err != nil || fi.Size() == 0 {
		s.noRecord = "sockshell --record wrote no recording"
		return
	}
	if err := probe(rec); err != nil {
		s.noRecord = "replaying a recording does not work yet (" + err.Error() + ")"
	}
}

func (s *suite) printHeader() {
	w := s.out
	mode := fmt.Sprintf("%d run(s) of each contender, alternated run by run", s.runs)
	if s.quick {
		mode += "; -quick sizes (tiny: shows the suite works, not how fast)"
	}
	fmt.Fprintf(w, "sockshell benchmarks: %s\n", mode)
	fmt.Fprintf(w, "machine: %s, %d cores, Linux %s, %s %s/%s\n",
		cpuModel(), runtime.NumCPU(), kernel(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "load:    %s\n", loadNote())
	if len(s.versions) > 0 {
		fmt.Fprintf(w, "peers:   %s\n", strings.Join(s.versions, ", "))
	}
	for _, p := range peers {
		if why, ok := s.missing[p.name]; ok {
			fmt.Fprintf(w, "missing: %s: %s\n", p.name, why)
		}
	}
	if s.sockshell == "" {
		fmt.Fprintf(w, "sockshell: unavailable: %s\n", s.noShell)
	}
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadNote is the 1-minute load average, with a warning when other work
// competes with the benchmarks for the CPUs.
func loadNote() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return "unknown"
	}
	note := "1-minute load average " + f[0]
	var load float64
	if _, err := fmt.Sscan(f[0], &load); err == nil && load >= 0.5 {
		note += fmt.Sprintf(" on %d cores: other work is running, so the figures are noisy", runtime.NumCPU())
	}
	return note
}

func kernel() string {
	data, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(data))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// firstLine is the first non-empty line of a command's output: where an
// interpreter puts its error message, before any traceback.
func firstLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return "(no output)"
}

// lastLine is the last non-empty line of a command's output, for messages.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return "(no output)"
}
