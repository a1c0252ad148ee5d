package repl

import (
	"sort"
	"strconv"
	"strings"
	"testing"
)

func TestComplete(t *testing.T) {
	rt, out := newRuntime(t)
	fds := nextFDs(t, 2)
	sh := New(rt, Config{In: strings.NewReader("socket unix stream\nsocket unix dgram\n"), Out: out, Err: out})
	if st := sh.Run(); st != 0 {
		t.Fatalf("setting up: status %d: %s", st, out)
	}
	open := strconv.Itoa(fds[0]) + " " + strconv.Itoa(fds[1])
	tests := []struct {
		line   string
		want   string // the completions, sorted, joined by "|"
		offset int
	}{
		{"socket ", "inet |inet6 |unix ", 0},
		{"socket in", "et |et6 ", 2},
		{"socket inet ", "dgram |seqpacket |stream ", 0},
		{"socket inet st", "ream ", 2},
		{"recv ", strings.ReplaceAll(open, " ", " |") + " ", 0},
		{"shutdown 3 ", "rd |rdwr |wr ", 0},
		{"setopt 3 reuse", "addr |port ", 5},
		{"setopt 3 nodelay ", "off |on ", 0},
		{"nonblock 3 o", "ff |n ", 1},
		{"sendframe 3 x ", "u16be |u16le |u32be |u32le |u8 ", 0},
		{"help recvf", "d |rame |rom ", 5},
		{"nosuch ", "", 0},
		{"recv 3 10 1 ", "", 0},
		{"close 3 ", "", 0},
		{"recv -x ", strings.ReplaceAll(open, " ", " |") + " ", 0},
		{"fd", "s ", 2}, // once, not twice
		{"qu", "it ", 2},
	}
	for _, tt := range tests {
		cands, offset := sh.complete([]rune(tt.line), len([]rune(tt.line)))
		var got []string
		for _, c := range cands {
			got = append(got, string(c))
		}
		sort.Strings(got)
		if g := strings.Join(got, "|"); g != tt.want || offset != tt.offset {
			t.Errorf("complete(%q) = %q, %d; want %q, %d", tt.line, g, offset, tt.want, tt.offset)
		}
	}
	// The first word: every command, plus fds and exit.
	cands, offset := sh.complete([]rune("rec"), 3)
	var got []string
	for _, c := range cands {
		got = append(got, "rec"+string(c))
	}
	sort.Strings(got)
	if g := strings.Join(got, " "); offset != 3 || g != "record  recv  recvall  recvfd  recvframe  recvfrom  recvline  recvn  recvuntil " {
		t.Errorf("complete(\"rec\") = %q, %d", g, offset)
	}
	all, _ := sh.complete(nil, 0)
	if len(all) < 40 {
		t.Errorf("complete(\"\") gave %d names", len(all))
	}
	// Completion in the middle of a line looks only at what is before the cursor.
	cands, _ = sh.complete([]rune("socket in stream"), len("socket in"))
	if len(cands) != 2 {
		t.Errorf("completing in the middle of a line: %q", cands)
	}
	var closes strings.Builder
	for _, fd := range fds {
		closes.WriteString("close " + strconv.Itoa(fd) + "\n")
	}
	if _, st := shell(t, rt, out, closes.String()); st != 0 {
		t.Errorf("closing: status %d: %s", st, out)
	}
}
