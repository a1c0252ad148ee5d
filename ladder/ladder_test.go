package ladder

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// twoLanes is a handshake between a client and a server, with calls on
// both lanes; the events are given out of time order, as a session logs
// them (a call after the packets it caused).
func twoLanes() *Diagram {
	d := &Diagram{Title: "t", Lanes: []string{"127.0.0.1:9000", "127.0.0.1:40000"}}
	d.Events = []Event{
		{At: ms(1), Kind: Call, Lane: 0, Label: "listen"},
		{At: ms(3), Kind: Packet, From: 1, To: 0, Label: "SYN seq 0 win 65495"},
		{At: ms(2), Kind: Call, Lane: 1, Label: "connect 127.0.0.1:9000 ..."},
		{At: ms(4), Kind: Packet, From: 0, To: 1, Label: "SYN-ACK seq 0 ack 1 win 65483"},
		{At: ms(5), Kind: Packet, From: 1, To: 0, Label: "a label far too long to fit between the two lanes of an 80-column terminal"},
		{At: ms(6), Kind: Call, Lane: 0, Label: "accept -> 5 127.0.0.1:40000"},
		{At: ms(7), Kind: Call, Lane: 1, Label: "connect: ECONNREFUSED", Alert: true},
		{At: ms(8), Kind: Note, Label: "wire off"},
	}
	d.Sort()
	return d
}

// TestTextLayout: rows in time order, arrows pointing from sender to
// receiver between the lanes' columns, a long label on a row of its own
// above its arrow, every line within the width.
func TestTextLayout(t *testing.T) {
	d := twoLanes()
	text := d.Text(80)
	t.Log("\n" + text)
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("%d columns: %q", n, l)
		}
	}
	if !strings.Contains(lines[0], "127.0.0.1:9000") || !strings.Contains(lines[0], "127.0.0.1:40000") ||
		strings.Index(lines[0], "9000") > strings.Index(lines[0], "40000") {
		t.Errorf("header %q: want the lanes left to right", lines[0])
	}
	find := func(s string) int {
		for i, l := range lines {
			if strings.Contains(l, s) {
				return i
			}
		}
		t.Fatalf("no %q in:\n%s", s, text)
		return -1
	}
	order := []string{"listen", "connect 127.0.0.1:9000 ...", "SYN seq 0", "SYN-ACK", "a label far", "accept -> 5", "! connect: ECONNREFUSED", "-- wire off --"}
	for i := 1; i < len(order); i++ {
		if find(order[i-1]) >= find(order[i]) {
			t.Errorf("%q is not above %q:\n%s", order[i-1], order[i], text)
		}
	}
	syn, synack := lines[find("SYN seq 0")], lines[find("SYN-ACK")]
	if !strings.Contains(syn, "|<-") || !strings.Contains(synack, "->|") || strings.Contains(syn, ">") || strings.Contains(synack, "<") {
		t.Errorf("arrows: SYN %q (want <- to the server's lane), SYN-ACK %q (want -> to the client's)", syn, synack)
	}
	long := find("a label far")
	if arrow := lines[long+1]; !strings.Contains(arrow, "|<---") || strings.ContainsAny(arrow[12:], "abcdefghijklmnopqrstuvwxyz") {
		t.Errorf("the long label's arrow %q: want a bare arrow under the label", arrow)
	}
	if !strings.Contains(lines[long], "...") {
		t.Errorf("the long label %q: want it cut short with ...", lines[long])
	}
	if !strings.HasPrefix(lines[find("accept -> 5")], "0.006000 ") {
		t.Errorf("row %q does not start with its time", lines[find("accept -> 5")])
	}
}

// TestTextTooManyLanes: lanes the width cannot hold are left out and a
// note names them.
func TestTextTooManyLanes(t *testing.T) {
	d := &Diagram{}
	for i := 0; i < 8; i++ {
		d.Lanes = append(d.Lanes, "10.0.0."+string(rune('1'+i))+":80")
		d.Events = append(d.Events, Event{At: ms(i), Kind: Call, Lane: i, Label: "close"})
	}
	text := d.Text(60)
	if !strings.Contains(text, "lanes not shown") || !strings.Contains(text, "10.0.0.8:80") {
		t.Errorf("no note of the lanes left out:\n%s", text)
	}
	for _, l := range strings.Split(text, "\n") {
		if utf8.RuneCountInString(l) > 60 {
			t.Errorf("wider than 60: %q", l)
		}
	}
}

// TestSVGWellFormed: the SVG and the HTML parse as XML even where labels
// hold bytes XML cannot (control bytes, invalid UTF-8) and markup, which
// comes out escaped.
func TestSVGWellFormed(t *testing.T) {
	d := twoLanes()
	d.Events = append(d.Events, Event{At: ms(9), Kind: Call, Lane: 1, Label: "recv <script>alert('x')</script> \"q\" & \x00\x01\x1b\xff\xfe"})
	d.Lanes[1] = "/tmp/<b>&"
	d.Notes = []string{"a note with <i>markup</i>"}
	for name, b := range map[string][]byte{"svg": d.SVG(), "html": d.HTML()} {
		body := b
		if name == "html" {
			body = b[bytes.Index(b, []byte("<svg")) : bytes.Index(b, []byte("</svg>"))+6]
		}
		dec := xml.NewDecoder(bytes.NewReader(body))
		var texts []string
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: not well-formed: %v\n%s", name, err, b)
			}
			if c, ok := tok.(xml.CharData); ok {
				texts = append(texts, string(c))
			}
		}
		all := strings.Join(texts, "\n")
		for _, want := range []string{"listen", "accept -> 5 127.0.0.1:40000", "recv <script>alert('x')</script> \"q\" &", "/tmp/<b>&"} {
			if !strings.Contains(all, want) {
				t.Errorf("%s: its text lacks %q", name, want)
			}
		}
		for _, bad := range []string{"<script", "<b>", "<i>", "\x00", "\x01", "\x1b", "\xff"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("%s holds %q unescaped", name, bad)
			}
		}
		for _, ext := range []string{"http:", "https:", "<link", "<img", "<script", "src=", "@import"} {
			if bytes.Contains(b, []byte(ext)) && !(ext == "http:" && bytes.Count(b, []byte("http:")) == bytes.Count(b, []byte("http://www.w3.org/2000/svg"))) {
				t.Errorf("%s refers to something outside itself (%q)", name, ext)
			}
		}
	}
}

// TestEscMatchesXML holds esc to encoding/xml's EscapeText.
func TestEscMatchesXML(t *testing.T) {
	for _, s := range []string{"", "plain", `<script>alert("x")</script>`, "a'b&c", "\t\n\r\x00\x01\x7f", "\xff\xfe", "é\uFFFD\U0001F600", "\ufffe\uffff", "\xed\xa0\x80"} {
		var got, want bytes.Buffer
		esc(&got, s)
		xml.EscapeText(&want, []byte(s))
		if got.String() != want.String() {
			t.Errorf("esc(%q) = %q, encoding/xml gives %q", s, got.String(), want.String())
		}
	}
}
