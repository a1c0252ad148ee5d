package luaapi

import (
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Signals are the ones a session takes: each ends a script or a piped
// session (128+signal), and SIGINT on a terminal stops what the user
// started.
var Signals = [...]os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// SignalGrace is how long a signal waits for the scheduler to take it
// before busy is called: the scheduler is running Lua code that never
// waits.
const SignalGrace = 250 * time.Millisecond

// WatchSignals is the session's one watcher of Signals. Each signal is
// handed to handle on the scheduler's goroutine. If the scheduler has not
// taken it after SignalGrace — a task is computing without ever waiting —
// busy is called with it on the watcher's own goroutine, again after each
// further SignalGrace until the scheduler takes it; busy must be safe for
// concurrent use (Abort a task, end the process). stop ends the watch.
func (rt *Runtime) WatchSignals(handle func(syscall.Signal), busy func(sig syscall.Signal, tries int)) (stop func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, Signals[:]...)
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case <-quit:
				return
			case s := <-sigs:
				sig := s.(syscall.Signal)
				done := make(chan struct{})
				rt.Post(func() { handle(sig); close(done) })
				for tries := 1; ; tries++ {
					select {
					case <-done:
					case <-quit:
						return
					case <-time.After(SignalGrace):
						busy(sig, tries)
						continue
					}
					break
				}
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(quit)
	}
}

// IgnoreQuit makes SIGQUIT do nothing until WatchSignals takes it: by
// default Go answers it with a dump of every goroutine, which is not for
// users.
func IgnoreQuit() { signal.Ignore(syscall.SIGQUIT) }
