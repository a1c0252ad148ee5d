package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// scriptTimeout bounds each scenario script, so that a hung one fails the
// test instead of hanging it.
const scriptTimeout = 60 * time.Second

// TestScripts runs every scenario script in scripts/ with no arguments, from
// the module root, as sockshell SCRIPT.lua: each must exit 0.
func TestScripts(t *testing.T) {
	root, scripts := scenarioScripts(t)
	for _, script := range scripts {
		rel, _ := filepath.Rel(root, script)
		t.Run(filepath.Base(script), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, "sockshell", rel)
			cmd.Dir = root
			cmd.WaitDelay = 5 * time.Second
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			start := time.Now()
			err := cmd.Run()
			switch {
			case errors.Is(ctx.Err(), context.DeadlineExceeded):
				t.Fatalf("sockshell %s: still running after %v; output:\n%s", rel, scriptTimeout, out.String())
			case err != nil:
				t.Fatalf("sockshell %s: %v after %v; output:\n%s", rel, err, time.Since(start).Round(time.Millisecond), out.String())
			}
		})
	}
}

// scenarioScripts returns the module root and the scripts in scripts/.
func scenarioScripts(t *testing.T) (root string, scripts []string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	scripts, err = filepath.Glob(filepath.Join(root, "scripts", "*.lua"))
	if err != nil {
		t.Fatal(err)
	}
	if len(scripts) == 0 {
		t.Fatal("no scripts in scripts/")
	}
	return root, scripts
}
