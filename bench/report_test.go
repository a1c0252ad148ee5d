package main

import (
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median(nil) is not NaN")
	}
}

func TestLoopSeconds(t *testing.T) {
	if got := loopSeconds("hello\nloop_s=1.250000000\n"); got != 1.25 {
		t.Errorf("loopSeconds = %v, want 1.25", got)
	}
	if got := loopSeconds("no timing here\n"); got != 0 {
		t.Errorf("loopSeconds without a loop_s line = %v, want 0", got)
	}
}

func TestServed(t *testing.T) {
	n, err := served("connected 10\nserved 10 0\nloop_s=0.1\n")
	if err != nil || n != 10 {
		t.Errorf("served = %d, %v; want 10, nil", n, err)
	}
	if _, err := served("oops\n"); err == nil {
		t.Error("served without a served line: no error")
	}
}

func TestRatioTarget(t *testing.T) {
	a := &contender{name: "a", results: []outcome{{loop: 1.1}}}
	b := &contender{name: "b", results: []outcome{{loop: 1.0}}}
	skipped := &contender{name: "c", skip: "not installed"}
	var sec section
	loop := func(c *contender) float64 { return c.loop() }
	sec.ratioTarget("a/b <= 1.15", a, b, loop, 1.15, false)
	sec.ratioTarget("a/b < 1", a, b, loop, 1, true)
	sec.ratioTarget("a/c < 1", a, skipped, loop, 1, true)
	want := []string{"PASS", "MISS", "n/a: c skipped"}
	for i, w := range want {
		if sec.targets[i].status != w {
			t.Errorf("target %d: status %q, want %q", i, sec.targets[i].status, w)
		}
	}
	if v := sec.targets[0].value; v != "1.10x" {
		t.Errorf("target 0: value %q, want 1.10x", v)
	}
}
