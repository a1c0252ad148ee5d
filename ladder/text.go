package ladder

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// minSpacing is the fewest columns between two lanes in text.
const minSpacing = 14

// Text draws d in at most width columns (at least 40): the time of each
// row on the left, a column per lane, a call's label beside its lane, a
// packet as an arrow with its label on it (or above it, where it does not
// fit between the lanes). Lanes past what the width holds are left out,
// and a note says which.
func (d *Diagram) Text(width int) string {
	width = max(width, 40)
	times := make([]string, len(d.Events))
	tc := 0
	for i, e := range d.Events {
		times[i] = fmt.Sprintf("%.6f", e.At.Seconds())
		tc = max(tc, len(times[i]))
	}
	tc += 2
	shown := len(d.Lanes)
	notes := d.Notes
	if max(shown, 1)*minSpacing > width-tc {
		shown = max((width-tc)/minSpacing, 1)
		notes = append(slices.Clone(notes), fmt.Sprintf("%d lanes not shown, too many for %d columns (%s): the SVG or HTML has them all",
			len(d.Lanes)-shown, width, strings.Join(d.Lanes[shown:], ", ")))
	}
	sp := (width - tc) / max(shown, 1)
	x := make([]int, shown)
	for i := range x {
		x[i] = tc + sp/2 + i*sp
	}
	var b strings.Builder
	put := func(row []rune) {
		b.WriteString(strings.TrimRight(string(row), " "))
		b.WriteByte('\n')
	}
	blank := func(t string) []rune {
		row := []rune(strings.Repeat(" ", width))
		copy(row, []rune(t))
		for _, c := range x {
			row[c] = '|'
		}
		return row
	}
	head := []rune(strings.Repeat(" ", width))
	for i, c := range x {
		name := clip(d.Lanes[i], sp-1)
		n := utf8.RuneCountInString(name)
		write(head, max(0, min(c-n/2, width-n)), name)
	}
	put(head)
	put(blank(""))
	for i, e := range d.Events {
		switch {
		case e.Kind == Note:
			row := blank(times[i])
			write(row, tc, clip("-- "+e.Label+" --", width-tc))
			put(row)
		case e.Kind == Call || e.From == e.To:
			lane := e.Lane
			label := e.Label
			if e.Kind == Packet {
				lane, label = e.From, "(to itself) "+label
			}
			if lane >= shown {
				continue
			}
			if e.Alert {
				label = "! " + label
			}
			row := blank(times[i])
			c := x[lane]
			row[c] = '*'
			n := utf8.RuneCountInString(label)
			switch {
			case c+2+n <= width:
				write(row, c+2, label)
			case c-1-n >= tc:
				write(row, c-1-n, label)
			default:
				write(row, c+2, clip(label, width-c-2))
			}
			put(row)
		default:
			if e.From >= shown || e.To >= shown {
				continue
			}
			lo, hi := min(x[e.From], x[e.To]), max(x[e.From], x[e.To])
			inner := hi - lo - 1
			label := e.Label
			if e.Alert {
				label = "! " + label
			}
			n := utf8.RuneCountInString(label)
			row := blank(times[i])
			if n+4 > inner {
				write(row, lo+2, clip(label, width-lo-2))
				put(row)
				row = blank("")
			}
			for c := lo + 1; c < hi; c++ {
				row[c] = '-'
			}
			if x[e.To] > x[e.From] {
				row[hi-1] = '>'
			} else {
				row[lo+1] = '<'
			}
			if n+4 <= inner {
				write(row, lo+1+(inner-n)/2-1, " "+label+" ")
			}
			put(row)
		}
	}
	put(blank(""))
	for _, n := range notes {
		line := "note:"
		for _, w := range strings.Fields(n) {
			if utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > width {
				b.WriteString(line + "\n")
				line = "     "
			}
			line += " " + w
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// write puts s into row from column at, as far as the row goes.
func write(row []rune, at int, s string) {
	for _, r := range s {
		if at >= 0 && at < len(row) {
			row[at] = r
		}
		at++
	}
}

// clip shortens s to n columns, ending it in "..." when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 3 {
		return string([]rune(s)[:max(n, 0)])
	}
	return string([]rune(s)[:n-3]) + "..."
}
