package record

import (
	"bytes"
	"io"
	"io/fs"
	"strconv"
	"strings"
)

// A long recording is mostly a few calls repeated: a ping-pong of 100,000
// calls is "send, expect(recvn)" 50,000 times, and a Lua compiler takes
// longer to read 100,000 lines than the replay takes to make the calls.
// When the destination is a File, the writer folds repetitions into loops:
//
//	for _ = 1, 50000 do                     -- the next 2 calls, repeated
//	  send(fd3, "ping")
//	  expect(recvn(fd3, 4), "ping")
//	end
//
// without giving up what an unfolded recording guarantees: every completed
// call is in the file as soon as Write returns, and the file is a valid
// script, which replays exactly the calls completed so far, at every moment
// (after every system call the writer makes). It works like this:
//
//   - Each Write makes a unit: the statements of one call, with the comment
//     lines before them. Units are written out at once as plain lines.
//   - When the last p units (p <= maxPeriod) are, ignoring trailing comments,
//     the same text as the p before them and the p before those
//     (minRepeats), one WriteAt replaces the 3p of them with a loop of count
//     3 over the first p, followed by spaces over what is left of them when
//     the loop is shorter.
//   - While the calls go on in the loop's order, a call that does not end a
//     repetition is appended after "end" as a plain line. The call that
//     ends one rewrites, in one WriteAt, the loop with its count one
//     higher and the lines after it as spaces. The count is the last thing
//     on the header line before the comment, which starts at a fixed
//     column, so the loop keeps its size.
//   - Any other call ends the loop: the lines after "end" stay as they are.
//
// So a recording makes as many system calls as it does without loops: one
// a call. The spaces at the end of the file are written over by what comes
// next; Close truncates the file after the recording, and so does a write
// that would leave more than maxBlank of them.
//
// A recording longer than maxConsts constants is cut into parts, functions
// closed by "end)()" (scope.go). Into a File the writer keeps that closing
// line at the end of the file while a part is open, writing each unit over
// it followed by it again, so that a recording cut short is a valid script
// too. (Into an io.Writer, a recording cut short inside a part is not.)
//
// A unit that cannot be in a loop body ends a loop and is never in one: one
// that declares a local (its scope would end with the loop), one that
// starts a new part (a loop lies inside one part) and one that keeps a
// pause with at(), whose time is absolute.
//
// Into a plain io.Writer the writer cannot take back what it wrote, so it
// does not fold.

// A File is a destination a Writer can fold loops in: it must be seekable,
// end where the Writer starts to write, and not append every write at its
// end (O_APPEND). An *os.File open on a regular file is one.
type File interface {
	io.Writer
	io.WriterAt
	io.Seeker
	Truncate(size int64) error
}

const (
	// maxPeriod is the most calls a loop body holds.
	maxPeriod = 8
	// minRepeats is how many times calls must come in a row to become a
	// loop: two identical lines read better than a loop of two.
	minRepeats = 3
	// maxBlank is the most spaces the writer leaves at the end of the file.
	maxBlank = 4096
)

// unit is what one Write wrote.
type unit struct {
	key   string     // the code, without trailing comments: what must repeat
	text  string     // as written
	off   int64      // where in the file it starts
	lines []codeLine // its lines, to write them again in a loop
}

// loop is the loop the calls are being folded into.
type loop struct {
	body    []unit // one repetition
	count   int    // completed repetitions
	off     int64  // where its header starts
	end     int64  // just after its "end\n"
	rest    string // the body's lines, indented, and "end\n"
	pending []unit // the repetition in progress, written after "end"
	indent  string // before the header and "end": inside a task function
}

// foldable returns f as a File the writer can fold loops in, and where
// writing starts, or nil if it cannot.
func foldable(w io.Writer) (File, int64) {
	f, ok := w.(File)
	if !ok {
		return nil, 0
	}
	if st, ok := w.(interface{ Stat() (fs.FileInfo, error) }); ok {
		// Not a pipe, a terminal or /dev/null.
		if fi, err := st.Stat(); err != nil || !fi.Mode().IsRegular() {
			return nil, 0
		}
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, 0
	}
	// The writer keeps track of what the file holds after off: nothing.
	if end, err := f.Seek(0, io.SeekEnd); err != nil || end != off {
		f.Seek(off, io.SeekStart)
		return nil, 0
	}
	// An *os.File opened with O_APPEND refuses WriteAt before any system
	// call is made.
	if _, err := f.WriteAt(nil, off); err != nil {
		return nil, 0
	}
	return f, off
}

// emit writes the unit in w.buf into the file, folding it into a loop when
// it continues one or completes a third repetition.
func (w *Writer) emit() error {
	u := unit{text: w.buf.String(), off: w.size, lines: w.lines}
	w.buf.Reset()
	if !w.barrier {
		var key strings.Builder
		for _, l := range u.lines {
			key.WriteString(l.code)
			key.WriteByte('\n')
		}
		u.key = key.String()
	}
	if l := w.loop; l != nil {
		if !w.barrier && u.key == l.body[len(l.pending)].key {
			if len(l.pending) == len(l.body)-1 {
				return w.repeat()
			}
			l.pending = append(l.pending, u)
			return w.append(u.text)
		}
		// The loop ends; the calls written after it stay as they are.
		w.loop = nil
		w.hist = append(w.hist[:0], l.pending...)
	}
	if err := w.append(u.text); err != nil {
		return err
	}
	if w.barrier {
		w.hist = w.hist[:0]
		return nil
	}
	if len(w.hist) == maxPeriod*minRepeats {
		w.hist = append(w.hist[:0], w.hist[1:]...)
	}
	w.hist = append(w.hist, u)
	if p := period(w.hist); p > 0 {
		return w.fold(p)
	}
	return nil
}

// period returns the smallest p such that the last p units of hist came
// minRepeats times in a row, or 0.
func period(hist []unit) int {
	n := len(hist)
next:
	for p := 1; p <= maxPeriod && p*minRepeats <= n; p++ {
		for i := n - p; i < n; i++ {
			for r := 1; r < minRepeats; r++ {
				if hist[i-r*p].key != hist[i].key {
					continue next
				}
			}
		}
		return p
	}
	return 0
}

// fold replaces the last minRepeats repetitions of p units with a loop.
func (w *Writer) fold(p int) error {
	n := len(w.hist)
	first := w.hist[n-minRepeats*p:]
	l := &loop{body: append([]unit(nil), first[:p]...), count: minRepeats, off: first[0].off, indent: w.indent()}
	var b bytes.Buffer
	for _, u := range l.body {
		for _, line := range u.lines {
			writeLine(&b, l.indent+"  ", line.code, line.comment)
		}
	}
	b.WriteString(l.indent + "end\n")
	l.rest = b.String()
	l.end = l.off + int64(len(l.header())+len(l.rest))
	w.hist = w.hist[:0]
	w.loop = l
	// The loop's constants: fewer than the calls' it replaces.
	w.konst('n', "1")
	w.konst('n', strconv.Itoa(minRepeats))
	return w.rewrite(l.header() + l.rest)
}

// repeat counts one more repetition of the loop, whose last call has just
// completed: the calls of it that were written after the loop go.
func (w *Writer) repeat() error {
	l := w.loop
	l.count++
	l.pending = l.pending[:0]
	if w.size == l.end {
		// A loop of one call: only the count changes.
		return w.writeAt(l.header(), l.off)
	}
	return w.rewrite(l.header() + l.rest)
}

// rewrite replaces the loop and what follows it with s.
func (w *Writer) rewrite(s string) error { return w.replace(w.loop.off, s) }

// append writes s at the end of the recording.
func (w *Writer) append(s string) error { return w.replace(w.size, s) }

// replace replaces everything in the file from off with s and the tail
// that closes the current part, in one WriteAt. If that is shorter than
// what it replaces, spaces cover the rest; if that leaves more than
// maxBlank spaces at the end of the file, or the Writer is closed, a
// Truncate then removes them. The file is a valid script at every moment.
func (w *Writer) replace(off int64, s string) error {
	b := s + w.tail()
	end := off + int64(len(b))
	if end < w.blank {
		b += strings.Repeat(" ", int(w.blank-end))
	}
	if err := w.writeAt(b, off); err != nil {
		return err
	}
	w.phys = max(w.phys, off+int64(len(b)))
	w.blank = end
	w.size = off + int64(len(s))
	if w.phys > end && (w.phys-end > maxBlank || w.closed) {
		if err := w.file.Truncate(end); err != nil {
			return w.fail(err)
		}
		w.phys = end
	}
	return nil
}

// header returns the loop's first line. The comment starts at a fixed
// column whatever the count, so that the line keeps its length.
func (l *loop) header() string {
	code := l.indent + "for _ = 1, " + strconv.Itoa(l.count) + " do"
	calls := strconv.Itoa(len(l.body)) + " calls"
	if len(l.body) == 1 {
		calls = "call"
	}
	return code + strings.Repeat(" ", max(commentColumn-len(code), 2)) +
		"-- the next " + calls + ", repeated\n"
}

func (w *Writer) writeAt(s string, off int64) error {
	if _, err := w.file.WriteAt([]byte(s), off); err != nil {
		return w.fail(err)
	}
	return nil
}
