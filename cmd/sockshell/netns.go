package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"sockshell/lab"
)

// netnsChild marks the sockshell that --netns started in a network
// namespace of its own.
const netnsChild = "SOCKSHELL_NETNS_CHILD"

// runInNetns runs this sockshell again, with the same arguments and
// standard streams, in a new network namespace, and returns its exit
// status. A Go program cannot move itself into a namespace: the call
// moves one thread, and the runtime starts others from wherever it likes.
// A process cloned into one has every thread there from its first.
func runInNetns(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: args, Stdin: stdin, Stdout: stdout, Stderr: stderr,
		Env: append(os.Environ(), netnsChild+"=1"),
		// The child dies with this process, even of a SIGKILL. The
		// kernel means the thread that started it: it stays locked.
		SysProcAttr: &unix.SysProcAttr{Cloneflags: unix.CLONE_NEWNET, Pdeathsig: unix.SIGKILL}}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Ctrl-C and Ctrl-\ reach the child from the terminal; the signals a
	// program sends to this process are passed on.
	signal.Ignore(unix.SIGINT, unix.SIGQUIT)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		if errors.Is(err, unix.EPERM) {
			err = lab.ErrPermission
		}
		fmt.Fprintf(stderr, "sockshell: --netns: %v\n", err)
		return 1
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	}
	if err != nil {
		fmt.Fprintf(stderr, "sockshell: --netns: %v\n", err)
		return 1
	}
	return 0
}

// enterNetns finishes what runInNetns started, in the child: loopback up.
// It reports whether this is that child.
func enterNetns() (child bool, err error) {
	if os.Getenv(netnsChild) == "" {
		return false, nil
	}
	os.Unsetenv(netnsChild) // not for the programs the session runs
	return true, lab.LoopbackUp()
}
