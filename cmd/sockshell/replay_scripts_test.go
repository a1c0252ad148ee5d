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

// TestScriptsReplay records every scenario script in scripts/, run as
// TestScripts runs it, and replays the recording: both must exit 0. The
// worker processes of concurrency.lua and fd_passing.lua are started again
// by the replay, as the session started them.
func TestScriptsReplay(t *testing.T) {
	root, scripts := scenarioScripts(t)
	for _, script := range scripts {
		name := filepath.Base(script)
		t.Run(name, func(t *testing.T) {
			if name != "concurrency.lua" {
				// concurrency.lua checks its own timings (tasks 5x faster
				// than one at a time): it runs alone, before the others.
				t.Parallel()
			}
			rec := filepath.Join(t.TempDir(), "rec.lua")
			runScript(t, root, "--record", rec, script)
			runScript(t, root, rec)
		})
	}
}

// runScript runs sockshell ARGS from dir and fails the test unless it
// exits 0 within scriptTimeout.
func runScript(t *testing.T, dir string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sockshell", args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		t.Fatalf("sockshell %q: still running after %v; output:\n%s", args, scriptTimeout, out.String())
	case err != nil:
		t.Fatalf("sockshell %q: %v; output:\n%s", args, err, out.String())
	}
}
