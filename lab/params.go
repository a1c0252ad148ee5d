package lab

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Dir is a direction of the link.
type Dir int

const (
	A2B Dir = iota // from host a to host b
	B2A            // from host b to host a
)

func (d Dir) String() string { return [...]string{"a2b", "b2a"}[d] }

// Params is what the link does to the packets of one direction.
type Params struct {
	Delay   time.Duration // each packet's one-way delay
	Jitter  time.Duration // added to the delay: uniform in [-Jitter, +Jitter]
	Loss    float64       // the chance a packet is lost
	Dup     float64       // the chance a packet is delivered twice
	Reorder float64       // the chance a packet is held back ReorderGap longer
	Rate    float64       // bits per second the link sends; 0: no limit
	Queue   int           // packets waiting to be sent at Rate; more are dropped
}

// ReorderGap is how much longer a reordered packet is held: the packets
// sent right behind it get there first.
const ReorderGap = 10 * time.Millisecond

// DefaultQueue is a direction's queue when the configuration names none:
// a Linux interface's default txqueuelen.
const DefaultQueue = 1000

// Config is the whole link: each direction's parameters, and the seed of
// the choices of loss, duplication, reordering and jitter (the same seed
// and the same packets give the same choices).
type Config struct {
	Dirs    [2]Params
	Seed    uint64
	HasSeed bool
}

// Keys are the words Set knows, for help and messages.
const Keys = "delay, jitter, loss, dup, reorder, rate, queue, seed"

// NewConfig is a link that does nothing to packets.
func NewConfig() Config {
	var c Config
	c.Dirs[A2B].Queue, c.Dirs[B2A].Queue = DefaultQueue, DefaultQueue
	return c
}

// Parse reads a configuration in words, as --lab takes it: KEY VALUE
// pairs (delay 100ms loss 5% rate 1mbit), each for both directions, or
// for one after a2b or b2a (both goes back to both).
func Parse(s string) (Config, error) {
	c := NewConfig()
	err := c.Apply(s)
	return c, err
}

// Apply changes the settings s names, in Parse's words, and leaves the
// others.
func (c *Config) Apply(s string) error {
	dirs := []Dir{A2B, B2A}
	words := strings.Fields(s)
	for i := 0; i < len(words); i++ {
		switch w := words[i]; w {
		case "a2b":
			dirs = []Dir{A2B}
			continue
		case "b2a":
			dirs = []Dir{B2A}
			continue
		case "both":
			dirs = []Dir{A2B, B2A}
			continue
		}
		if i+1 == len(words) {
			return fmt.Errorf("%s needs a value", words[i])
		}
		for _, d := range dirs {
			if err := c.Set(&d, words[i], words[i+1]); err != nil {
				return err
			}
		}
		i++
	}
	return nil
}

// Set sets one key to a value in words: for the direction *d, or for
// both where d is nil. Durations are a number of seconds (0.1) or a Go
// duration (100ms); chances are a fraction (0.05) or a percentage (5%);
// a rate is bits per second (1000000) or with a unit (kbit, mbit, gbit).
func (c *Config) Set(d *Dir, key, value string) error {
	if key == "seed" {
		n, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			return fmt.Errorf("bad seed %q: expected a whole number", value)
		}
		c.Seed, c.HasSeed = n, true
		return nil
	}
	dirs := []Dir{A2B, B2A}
	if d != nil {
		dirs = []Dir{*d}
	}
	for _, d := range dirs {
		p := &c.Dirs[d]
		var err error
		switch key {
		case "delay":
			p.Delay, err = duration(key, value)
		case "jitter":
			p.Jitter, err = duration(key, value)
		case "loss":
			p.Loss, err = chance(key, value)
		case "dup":
			p.Dup, err = chance(key, value)
		case "reorder":
			p.Reorder, err = chance(key, value)
		case "rate":
			p.Rate, err = rate(value)
		case "queue":
			n, perr := strconv.Atoi(value)
			if perr != nil || n < 1 || n > maxHeld {
				err = fmt.Errorf("bad queue %q: expected packets from 1 to %d", value, maxHeld)
			}
			p.Queue = n
		default:
			return fmt.Errorf("unknown setting %q: expected %s (a2b or b2a for one direction)", key, Keys)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func duration(key, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil {
			return 0, fmt.Errorf("bad %s %q: expected seconds (0.1) or a duration (100ms)", key, v)
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d < 0 || d > time.Minute {
		return 0, fmt.Errorf("bad %s %q: expected from 0 to 60s", key, v)
	}
	return d, nil
}

func chance(key, v string) (float64, error) {
	s, scale := v, 1.0
	if t, ok := strings.CutSuffix(v, "%"); ok {
		s, scale = t, 100
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f/scale < 0 || f/scale > 1 {
		return 0, fmt.Errorf("bad %s %q: expected a fraction from 0 to 1 (0.05) or a percentage (5%%)", key, v)
	}
	return f / scale, nil
}

var rateUnits = []struct {
	suffix string
	scale  float64
}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}}

func rate(v string) (float64, error) {
	s, scale := strings.ToLower(v), 1.0
	for _, u := range rateUnits {
		if t, ok := strings.CutSuffix(s, u.suffix); ok {
			s, scale = t, u.scale
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f*scale > 1e11 {
		return 0, fmt.Errorf("bad rate %q: expected bits per second (1000000) or with a unit (100kbit, 10mbit)", v)
	}
	if f > 0 && f*scale < 8000 {
		return 0, fmt.Errorf("bad rate %q: at least 8kbit (a full packet a second and a half)", v)
	}
	return f * scale, nil
}

// String is the configuration in Parse's words, each direction's settings
// once when both are the same.
func (c Config) String() string {
	var parts []string
	a, b := c.Dirs[A2B].String(), c.Dirs[B2A].String()
	switch {
	case a == b:
		parts = append(parts, a)
	default:
		parts = append(parts, "a2b "+a, "b2a "+b)
	}
	if c.HasSeed {
		parts = append(parts, "seed "+strconv.FormatUint(c.Seed, 10))
	}
	return strings.TrimSpace(strings.Join(parts, " "))
}

// String is the parameters in Parse's words, those that do something;
// "delay 0s" when none does.
func (p Params) String() string {
	var ws []string
	if p.Delay > 0 {
		ws = append(ws, "delay "+p.Delay.String())
	}
	if p.Jitter > 0 {
		ws = append(ws, "jitter "+p.Jitter.String())
	}
	for _, c := range []struct {
		key string
		v   float64
	}{{"loss", p.Loss}, {"dup", p.Dup}, {"reorder", p.Reorder}} {
		if c.v > 0 {
			ws = append(ws, c.key+" "+strconv.FormatFloat(c.v*100, 'g', -1, 64)+"%")
		}
	}
	if p.Rate > 0 {
		ws = append(ws, "rate "+rateString(p.Rate))
	}
	if p.Queue != DefaultQueue {
		ws = append(ws, "queue "+strconv.Itoa(p.Queue))
	}
	if len(ws) == 0 {
		return "delay 0s"
	}
	return strings.Join(ws, " ")
}

func rateString(r float64) string {
	for _, u := range rateUnits {
		if r >= u.scale && r/u.scale == float64(int64(r/u.scale)) {
			return strconv.FormatInt(int64(r/u.scale), 10) + u.suffix
		}
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + "bit"
}
