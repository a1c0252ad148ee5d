package main

import (
	"bytes"
	"context"
	"html"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ladderScript is a session with the wire on where it can be, a payload
// that tries to break out of the page, and the ladder written as a page
// and as an SVG.
const ladderScript = `
wire("on")
local l = socket("inet", "stream")
bind(l, "127.0.0.1:0")
listen(l)
local c = socket("inet", "stream")
connect(c, getsockname(l))
local s = accept(l)
send(c, "<script>x</script>\0\255")
expect(recv(s), "<script>x</script>\0\255")
sendline(s, "bye")
expect(recvline(c), "bye")
close(c); close(s); close(l)
print(ladder(arg[1] .. "/l.html"))
print(ladder(arg[1] .. "/l.svg"))
`

// ladderCalls are the calls the page must name, as ladder labels them.
var ladderCalls = []string{
	"socket inet stream -> 3", "bind 127.0.0.1:0", "listen", "socket inet stream -> 4",
	"connect 127.0.0.1:", "accept -> 5 127.0.0.1:", `send 20 "<script>x</script>\0\xff"`,
	`recv "<script>x</script>\0\xff"`, `sendline 3 "bye" -> 4`, `recvline "bye"`, "close",
}

// TestLadderChromium renders the ladder's HTML page and SVG in headless
// Chromium: the screenshot is not blank (several colours, a share of the
// pixels not the background), and the page's text names every call, the
// hostile payload as escaped text, not as markup.
func TestLadderChromium(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "s.lua")
	if err := os.WriteFile(script, []byte(ladderScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sockshell", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("sockshell: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^wrote .*/l\.html: 2 lanes, \d+ calls, \d+ packets$`).Match(out) {
		t.Fatalf("sockshell said:\n%s", out)
	}
	for _, name := range []string{"l.html", "l.svg"} {
		t.Run(name, func(t *testing.T) {
			page := "file://" + filepath.Join(dir, name)
			shot := filepath.Join(dir, name+".png")
			chromium(t, browser, "--screenshot="+shot, "--window-size=1200,900", page)
			checkScreenshot(t, shot)
			dom := chromium(t, browser, "--dump-dom", page)
			if strings.Contains(dom, "<script>") {
				t.Errorf("the page's DOM has a script element:\n%s", dom)
			}
			text := html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(dom, "\n"))
			for _, call := range ladderCalls {
				if !strings.Contains(text, call) {
					t.Errorf("the page's text does not name %q:\n%s", call, text)
				}
			}
		})
	}
}

// chromium runs headless Chromium with args and returns its stdout.
func chromium(t *testing.T, browser string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + t.TempDir(),
		"--hide-scrollbars", "--no-first-run"}, args...)
	cmd := exec.CommandContext(ctx, browser, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", browser, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// checkScreenshot fails unless the PNG shows a drawing: at least 5
// colours, and at least 1% of the pixels not the page's white.
func checkScreenshot(t *testing.T, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	colours := map[[3]uint32]bool{}
	b := img.Bounds()
	inked := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if r>>8 < 240 || g>>8 < 240 || bl>>8 < 240 {
				inked++
			}
		}
	}
	share := float64(inked) / float64(b.Dx()*b.Dy())
	t.Logf("%s: %dx%d, %d colours, %.1f%% inked", filepath.Base(file), b.Dx(), b.Dy(), len(colours), share*100)
	if len(colours) < 5 || share < 0.01 {
		t.Errorf("%s looks blank: %d colours, %.2f%% of the pixels not white", file, len(colours), share*100)
	}
}

// TestLadderTerminalWidth: in the shell on a terminal, ladder fits the
// terminal's width, and follows it when the window is resized.
func TestLadderTerminalWidth(t *testing.T) {
	term := startTerminal(t, t.TempDir())
	term.expect(prompt)
	for _, line := range []string{"socket inet stream", "bind 3 127.0.0.1:0", "listen 3", "socket inet stream"} {
		term.send(line + "\n")
		term.expect(prompt)
	}
	widest := func() int {
		term.send("ladder\n")
		term.expect(`\* listen`)
		term.expect(prompt)
		n := 0
		for _, l := range strings.Split(term.all()[strings.LastIndex(term.all(), "ladder\r\n"):], "\n") {
			n = max(n, len([]rune(strings.TrimRight(l, "\r"))))
		}
		return n
	}
	// Two lanes in 200 columns: the second lane's calls end near its right.
	if n := widest(); n <= 100 || n > 200 {
		t.Errorf("in 200 columns the widest line is %d columns, want it to use the width:\n%s", n, term.since())
	}
	if err := pty.Setsize(term.pty, &pty.Winsize{Rows: 50, Cols: 60}); err != nil {
		t.Fatal(err)
	}
	if n := widest(); n > 60 || n < 40 {
		t.Errorf("in 60 columns the widest line is %d columns:\n%s", n, term.all())
	}
}
