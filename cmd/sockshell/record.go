package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"sockshell/internal/lowfd"
	"sockshell/luaapi"
	"sockshell/record"
)

// recording connects the runtime's calls to a record.Writer on a file.
// Its Write and abandon are safe for concurrent use: a signal that finds
// the scheduler busy finishes the recording from the signal watcher.
type recording struct {
	rt      *luaapi.Runtime
	stderr  io.Writer
	command []string

	mu        sync.Mutex
	f         *os.File
	w         *record.Writer
	abandoned bool
}

// Write hands an event to the writer, if the recording is still on.
func (r *recording) Write(ev record.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return nil
	}
	return r.w.Write(ev)
}

// abandon finishes the recording and ends the process with status: the
// last resort of a signal the busy scheduler could not take.
func (r *recording) abandon(status int) {
	r.mu.Lock()
	if r.w != nil {
		r.w.Close()
		r.f.Close()
		r.w, r.f = nil, nil
	}
	r.abandoned = true
	os.Exit(status)
}

func newRecording(rt *luaapi.Runtime, stderr io.Writer, command []string) *recording {
	return &recording{rt: rt, stderr: stderr, command: command}
}

func (r *recording) start(file string) error {
	r.stop()
	fd, err := unix.Open(file, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("record: %s: %w", file, err)
	}
	f := os.NewFile(uintptr(lowfd.Private(fd)), file)
	w, err := record.NewWriter(f, record.Header{Time: time.Now().UTC(), Version: version, Command: r.command})
	if err != nil {
		f.Close()
		return fmt.Errorf("record: %w", err)
	}
	r.mu.Lock()
	r.f, r.w = f, w
	r.mu.Unlock()
	r.rt.SetRecorder(r)
	return nil
}

// toggle is the record command: a file starts recording, "" stops it.
func (r *recording) toggle(file string) error {
	if file == "" {
		if r.w == nil {
			return errNoRecord
		}
		r.stop()
		return nil
	}
	return r.start(file)
}

func (r *recording) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return
	}
	r.rt.SetRecorder(nil)
	r.w.Close()
	r.f.Close()
	r.w, r.f = nil, nil
}
