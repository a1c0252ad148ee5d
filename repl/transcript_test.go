package repl

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Transcripts in testdata/*.txt are shell sessions: "> " lines are typed,
// the lines after them are the output expected, in order; a line starting
// "~ " is a regular expression the output line must match in full; "status
// N" is the exit status; "#" lines are comments. $A, $B, ... stand for the
// descriptors the session's sockets will get, in order; $PID for the test
// process id (to keep abstract socket names apart).
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runTranscript(t, file)
		})
	}
}

func runTranscript(t *testing.T, file string) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rt, out := newRuntime(t)
	fds := nextFDs(t, 8)
	vars := []string{"$PID", strconv.Itoa(os.Getpid())}
	for i, fd := range fds {
		vars = append(vars, "$"+string(rune('A'+i)), strconv.Itoa(fd))
	}
	subst := strings.NewReplacer(vars...)
	var input strings.Builder
	var want []string
	wantStatus := -1
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := subst.Replace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "> "):
			input.WriteString(line[2:] + "\n")
		case line == ">":
			input.WriteString("\n")
		case strings.HasPrefix(line, "status "):
			wantStatus, _ = strconv.Atoi(line[len("status "):])
		default:
			want = append(want, line)
		}
	}
	output, status := shell(t, rt, out, input.String())
	got := strings.Split(strings.TrimSuffix(output, "\n"), "\n")
	if output == "" {
		got = nil
	}
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		ok := g == w
		if strings.HasPrefix(w, "~ ") {
			ok = regexp.MustCompile("^(?:" + w[2:] + ")$").MatchString(g)
		}
		if !ok || i >= len(got) || i >= len(want) {
			t.Errorf("output line %d:\n   got %q\n  want %q\nwhole output:\n%s", i+1, g, w, output)
			break
		}
	}
	if wantStatus >= 0 && status != wantStatus {
		t.Errorf("exit status %d; want %d", status, wantStatus)
	}
	if n := len(rt.FDs()); n != 0 {
		t.Errorf("%d descriptors left open at the end of the transcript", n)
	}
}

// nextFDs returns the n descriptor numbers the kernel will hand out next.
func nextFDs(t *testing.T, n int) []int {
	t.Helper()
	var fds []int
	for i := 0; i < n; i++ {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	return fds
}
