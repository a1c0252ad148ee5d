package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"sockshell/luaapi"
	"sockshell/record"
	"sockshell/sock"
)

// recording connects the runtime's calls to a record.Writer on a file.
type recording struct {
	rt      *luaapi.Runtime
	stderr  io.Writer
	command []string
	f       *os.File
	w       *record.Writer
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
	f := os.NewFile(uintptr(sock.Private(fd)), file)
	w, err := record.NewWriter(f, record.Header{Time: time.Now().UTC(), Version: version, Command: r.command})
	if err != nil {
		f.Close()
		return fmt.Errorf("record: %w", err)
	}
	r.f, r.w = f, w
	r.rt.SetRecorder(w)
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
	if r.w == nil {
		return
	}
	r.rt.SetRecorder(nil)
	r.w.Close()
	r.f.Close()
	r.w, r.f = nil, nil
}
