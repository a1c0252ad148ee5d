package ladder

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// The SVG's geometry, in pixels: a monospace font's character is about
// charW wide at fontSize.
const (
	fontSize = 12
	charW    = 7.3
	rowH     = 26
	timeW    = 96
	headH    = 56
	noteH    = 18
	minLane  = 200
	maxLane  = 480
)

// The colours: calls, packets, what went wrong, the lanes.
const (
	callFill   = "#fdf6e3"
	callStroke = "#b58900"
	packetInk  = "#1a5fb4"
	alertInk   = "#c01c28"
	alertFill  = "#fde0e0"
	laneInk    = "#777777"
)

// SVG draws d as a standalone SVG document: no scripts, no external
// resources, every label escaped.
func (d *Diagram) SVG() []byte {
	var b bytes.Buffer
	d.svg(&b, true)
	return b.Bytes()
}

// HTML draws d as a self-contained HTML page: its title, the SVG inline,
// and the notes.
func (d *Diagram) HTML() []byte {
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
	esc(&b, d.Title)
	b.WriteString("</title>\n<style>\nbody { font-family: sans-serif; margin: 16px; background: #ffffff; color: #000000; }\n" +
		"h1 { font-size: 18px; }\np.note { color: #555555; font-style: italic; }\n</style>\n</head>\n<body>\n<h1>")
	esc(&b, d.Title)
	b.WriteString("</h1>\n")
	d.svg(&b, false)
	for _, n := range d.Notes {
		b.WriteString("<p class=\"note\">")
		esc(&b, n)
		b.WriteString("</p>\n")
	}
	b.WriteString("</body>\n</html>\n")
	return b.Bytes()
}

func (d *Diagram) svg(b *bytes.Buffer, standalone bool) {
	longest := 0
	for _, e := range d.Events {
		if e.Kind != Note {
			longest = max(longest, utf8.RuneCountInString(e.Label))
		}
	}
	for _, l := range d.Lanes {
		longest = max(longest, utf8.RuneCountInString(l))
	}
	lane := min(max(float64(longest)*charW+40, minLane), maxLane)
	maxChars := int((lane - 24) / charW)
	n := max(len(d.Lanes), 1)
	width := timeW + float64(n)*lane
	top := float64(headH)
	height := top + float64(len(d.Events)+1)*rowH
	if standalone {
		height += float64(len(d.Notes)) * noteH
	}
	x := func(i int) float64 { return timeW + lane/2 + float64(i)*lane }

	if standalone {
		b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	}
	fmt.Fprintf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"monospace\" font-size=\"%d\">\n",
		width, height, width, height, fontSize)
	b.WriteString("<title>")
	esc(b, d.Title)
	b.WriteString("</title>\n")
	for _, c := range []struct{ id, ink string }{{"arrow", packetInk}, {"arrow-alert", alertInk}} {
		fmt.Fprintf(b, "<defs><marker id=\"%s\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\">"+
			"<path d=\"M0,0 L10,5 L0,10 z\" fill=\"%s\"/></marker></defs>\n", c.id, c.ink)
	}
	fmt.Fprintf(b, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", width, height)
	fmt.Fprintf(b, "<text x=\"8\" y=\"28\" fill=\"%s\">time (s)</text>\n", laneInk)
	bottom := top + float64(len(d.Events))*rowH + rowH/2
	for i, name := range d.Lanes {
		fmt.Fprintf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-dasharray=\"4 3\"/>\n", x(i), top-12, x(i), bottom, laneInk)
		w := float64(min(utf8.RuneCountInString(name), maxChars))*charW + 16
		fmt.Fprintf(b, "<rect x=\"%.1f\" y=\"12\" width=\"%.1f\" height=\"26\" rx=\"4\" fill=\"#e8eef8\" stroke=\"%s\"/>\n", x(i)-w/2, w, packetInk)
		text(b, x(i), 30, "middle", "#000000", true, name, maxChars)
	}
	for i, e := range d.Events {
		y := top + float64(i)*rowH + rowH/2
		text(b, 8, y+4, "start", laneInk, false, fmt.Sprintf("%.6f", e.At.Seconds()), 0)
		switch {
		case e.Kind == Note:
			fmt.Fprintf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#cccccc\"/>\n", timeW, y, width-8, y)
			text(b, timeW+8, y-4, "start", "#555555", false, e.Label, 0)
		case e.Kind == Call || e.From == e.To:
			lx, label := x(e.Lane), e.Label
			if e.Kind == Packet {
				lx, label = x(e.From), "(to itself) "+label
			}
			fill, stroke := callFill, callStroke
			if e.Alert {
				fill, stroke = alertFill, alertInk
			}
			w := float64(min(utf8.RuneCountInString(label), maxChars))*charW + 14
			fmt.Fprintf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"20\" rx=\"4\" fill=\"%s\" stroke=\"%s\"/>\n", lx-w/2, y-10, w, fill, stroke)
			text(b, lx, y+4, "middle", "#000000", false, label, maxChars)
		default:
			ink, marker := packetInk, "arrow"
			if e.Alert {
				ink, marker = alertInk, "arrow-alert"
			}
			x1, x2 := x(e.From), x(e.To)
			fmt.Fprintf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\" marker-end=\"url(#%s)\"/>\n",
				x1, y-4, x2, y+8, ink, marker)
			span := int((max(x1, x2)-min(x1, x2))/charW) - 2
			text(b, (x1+x2)/2, y-3, "middle", ink, false, e.Label, max(span, maxChars))
		}
	}
	if standalone {
		for i, n := range d.Notes {
			text(b, 8, bottom+float64(i+1)*noteH, "start", "#555555", false, n, 0)
		}
	}
	b.WriteString("</svg>\n")
}

// text writes a text element; a label cut to maxChars (0: no limit) keeps
// the whole of it in a title, which a browser shows on hover.
func text(b *bytes.Buffer, x, y float64, anchor, ink string, bold bool, s string, maxChars int) {
	fmt.Fprintf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\"", x, y, anchor, ink)
	if bold {
		b.WriteString(" font-weight=\"bold\"")
	}
	b.WriteString(">")
	if maxChars > 0 && utf8.RuneCountInString(s) > maxChars {
		b.WriteString("<title>")
		esc(b, s)
		b.WriteString("</title>")
		s = clip(s, maxChars)
	}
	esc(b, s)
	b.WriteString("</text>\n")
}

// esc writes s escaped for XML text and attributes; bytes XML cannot
// hold become U+FFFD.
// esc writes s escaped as encoding/xml's EscapeText does (invalid UTF-8
// and characters XML does not allow become U+FFFD); written out here
// because initialising encoding/xml costs every start of sockshell.
func esc(b *bytes.Buffer, s string) {
	for _, r := range s { // invalid UTF-8 comes as U+FFFD
		switch r {
		case '"':
			b.WriteString("&#34;")
		case '\'':
			b.WriteString("&#39;")
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\t':
			b.WriteString("&#x9;")
		case '\n':
			b.WriteString("&#xA;")
		case '\r':
			b.WriteString("&#xD;")
		default:
			if !xmlChar(r) {
				r = utf8.RuneError
			}
			b.WriteRune(r)
		}
	}
}

// xmlChar reports whether XML 1.0 allows r in text.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
