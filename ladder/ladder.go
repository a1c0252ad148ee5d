// Package ladder draws a session as a sequence diagram: a lane per
// endpoint, each call on its lane, each packet an arrow from lane to lane,
// time going down. It draws text for a terminal and a self-contained SVG
// or HTML page for a browser. It knows nothing of sockets or Lua: it is
// given the lanes and the events.
package ladder

import (
	"sort"
	"time"
)

// Kind is what an event is.
type Kind uint8

const (
	Call   Kind = iota // a call on one lane
	Packet             // an arrow from one lane to another
	Note               // a line across the diagram (wire on, a task spawned)
)

// Event is one row of the diagram. Labels are shown as they are: the
// caller escapes peer bytes (record.Quote) before they get here; the SVG
// and HTML escape what XML needs.
type Event struct {
	At       time.Duration // since the session's start
	Kind     Kind
	Lane     int // Call: the lane's index
	From, To int // Packet: the lanes' indexes
	Label    string
	// Alert marks what went wrong or stalls: a failed call, a RST, a zero
	// window. Drawn in red.
	Alert bool
}

// Diagram is what is drawn: the lanes (endpoints' names) left to right,
// the events top to bottom, and notes said under it.
type Diagram struct {
	Title  string
	Lanes  []string
	Events []Event
	Notes  []string
}

// Sort puts the events in time order, keeping the order they were given
// in among equal times.
func (d *Diagram) Sort() {
	sort.SliceStable(d.Events, func(i, j int) bool { return d.Events[i].At < d.Events[j].At })
}

// Lanes numbers endpoints by first appearance.
type Lanes struct {
	names []string
	index map[string]int
}

// Of returns the lane of name, adding it if new.
func (l *Lanes) Of(name string) int {
	if i, ok := l.index[name]; ok {
		return i
	}
	if l.index == nil {
		l.index = map[string]int{}
	}
	l.index[name] = len(l.names)
	l.names = append(l.names, name)
	return len(l.names) - 1
}

// Names returns the lanes' names in order.
func (l *Lanes) Names() []string { return l.names }
