package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// contender is one program a benchmark measures, with its runs.
type contender struct {
	name    string
	run     func() (outcome, error) // one run
	skip    string                  // why it is not run; "" if it is
	failed  string                  // why a run failed; "" if none did
	results []outcome
}

// ok reports whether the contender has figures to show.
func (c *contender) ok() bool { return c.skip == "" && c.failed == "" && len(c.results) > 0 }

// status is what to show instead of figures when there are none.
func (c *contender) status() string {
	switch {
	case c.skip != "":
		return "skipped: " + c.skip
	case c.failed != "":
		return "failed: " + c.failed
	}
	return "no runs"
}

func (c *contender) loop() float64 {
	return median(c.values(func(o outcome) float64 { return o.loop }))
}
func (c *contender) wall() float64 {
	return median(c.values(func(o outcome) float64 { return o.wall.Seconds() }))
}

// cpu is the median user and system CPU time of the runs.
func (c *contender) cpu() string {
	user := median(c.values(func(o outcome) float64 { return o.user.Seconds() }))
	sys := median(c.values(func(o outcome) float64 { return o.sys.Seconds() }))
	return fmt.Sprintf("%s + %s", cpuSecs(user), cpuSecs(sys))
}

// cpuSecs is a CPU time, which the kernel counts in ticks: 0 is "0".
func cpuSecs(x float64) string {
	if x == 0 {
		return "0"
	}
	return secs(x)
}

func (c *contender) values(f func(outcome) float64) []float64 {
	v := make([]float64, len(c.results))
	for i, o := range c.results {
		v[i] = f(o)
	}
	return v
}

// hasLoop reports whether every run reported its loop time.
func (c *contender) hasLoop() bool {
	for _, o := range c.results {
		if o.loop <= 0 {
			return false
		}
	}
	return len(c.results) > 0
}

// alternate runs the contenders one after another, runs times over (A B C,
// A B C, ...), so a drift in the machine's speed touches them all alike. A
// contender that fails is not run again.
func (s *suite) alternate(bench string, runs int, cs []*contender) {
	for i := 1; i <= runs; i++ {
		for _, c := range cs {
			if c.skip != "" || c.failed != "" {
				continue
			}
			o, err := c.run()
			if err != nil {
				c.failed = err.Error()
				s.fail("%s: %s: %v", bench, c.name, err)
				continue
			}
			c.results = append(c.results, o)
			if s.verbose {
				s.logf("%s run %d/%d %-22s wall %s loop %s", bench, i, runs, c.name, secs(o.wall.Seconds()), secs(o.loop))
			}
		}
	}
}

// section is one benchmark's part of the report.
type section struct {
	title   string
	notes   []string
	header  []string
	rows    [][]string
	targets []target
	skipped string // the whole benchmark was skipped, and why
}

// target is one of docs/DESIGN.md (Performance)'s targets and how this run did on it.
type target struct {
	what   string // "sockshell/C loop time <= 1.15"
	value  string // "1.08"
	status string // PASS, MISS, or "n/a: why"
}

func (sec *section) add(row ...string) { sec.rows = append(sec.rows, row) }

// addTarget compares a measured value with its limit.
func (sec *section) addTarget(what string, value float64, format string, pass bool) {
	st := "MISS"
	if pass {
		st = "PASS"
	}
	sec.targets = append(sec.targets, target{what: what, value: fmt.Sprintf(format, value), status: st})
}

// addNA records a target that could not be judged.
func (sec *section) addNA(what, why string) {
	sec.targets = append(sec.targets, target{what: what, value: "-", status: "n/a: " + why})
}

// ratioTarget judges a/b against limit (strict: a/b < limit) with metric.
func (sec *section) ratioTarget(what string, a, b *contender, metric func(*contender) float64, limit float64, strict bool) {
	for _, c := range []*contender{a, b} {
		switch {
		case c.skip != "":
			sec.addNA(what, c.name+" skipped")
			return
		case !c.ok():
			sec.addNA(what, c.name+" failed")
			return
		}
	}
	r := metric(a) / metric(b)
	pass := r <= limit
	if strict {
		pass = r < limit
	}
	sec.addTarget(what, r, "%.2fx", pass)
}

func (sec *section) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n", sec.title)
	for _, n := range sec.notes {
		fmt.Fprintf(w, "   %s\n", n)
	}
	if sec.skipped != "" {
		fmt.Fprintf(w, "   skipped: %s\n", sec.skipped)
	}
	if len(sec.rows) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "   %s\n", strings.Join(sec.header, "\t"))
		for _, r := range sec.rows {
			fmt.Fprintf(tw, "   %s\n", strings.Join(r, "\t"))
		}
		tw.Flush()
	}
	for _, t := range sec.targets {
		fmt.Fprintf(w, "   target %s: %s  %s\n", t.what, t.value, t.status)
	}
}

func (s *suite) printSummary(sections []*section) {
	fmt.Fprintf(s.out, "\nsummary (load at the end: %s)\n", loadNote())
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	for _, sec := range sections {
		short, _, _ := strings.Cut(sec.title, ":")
		if sec.skipped != "" && len(sec.targets) == 0 {
			fmt.Fprintf(tw, "   %s\t\t\tskipped: %s\n", short, sec.skipped)
			continue
		}
		for _, t := range sec.targets {
			fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\n", short, t.what, t.value, t.status)
		}
	}
	tw.Flush()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minMax(v []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// secs formats seconds with a unit that keeps three or four digits.
func secs(x float64) string {
	switch {
	case x <= 0 || math.IsNaN(x):
		return "-"
	case x >= 1:
		return fmt.Sprintf("%.3f s", x)
	case x >= 1e-3:
		return fmt.Sprintf("%.2f ms", x*1e3)
	default:
		return fmt.Sprintf("%.1f us", x*1e6)
	}
}

// spread formats the fastest and slowest of a contender's runs.
func spread(v []float64) string {
	if len(v) < 2 {
		return "-"
	}
	lo, hi := minMax(v)
	return secs(lo) + " .. " + secs(hi)
}

func mb(bytes float64) string { return fmt.Sprintf("%.1f MB", bytes/1e6) }

func dur(d time.Duration) string { return secs(d.Seconds()) }
