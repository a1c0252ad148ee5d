package luaapi

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"sockshell/internal/lowfd"
	"sockshell/sock"
)

// A DNS lookup can take seconds, and the scheduler's one goroutine runs
// every task: a call that needs one (connect, sendto or bind to a host
// name) looks the name up on a goroutine of its own and waits for it like
// any other waiting call — bounded by the call's timeout, cut short by
// Ctrl-C — while the other tasks run. The wait is of kind waitGo: the
// goroutine posts its result to the scheduler, which finishes the call.

// goWork is the part of a waiting call that a goroutine does.
type goWork struct {
	cancel context.CancelFunc // ends the goroutine's context
	done   chan any           // what work returned (buffered)
	// then finishes the call on the scheduler's goroutine with what work
	// returned: the call's results, or the next thing it waits for.
	then func(any) ([]lua.LValue, *waitReq)
	task *Task // the task that made the call, if any
}

// workers counts the goroutines of waiting calls, so that Close can wait
// for them: none may post to a closed runtime.
type workers struct {
	wg sync.WaitGroup
}

// goWait returns the wait of a call whose work runs on a goroutine: work
// gets a context that ends at deadline (none if it is zero) or when the
// wait ends another way (Ctrl-C, kill, the runtime closing).
func (rt *Runtime) goWait(op string, fd int, addr string, deadline time.Time, work func(context.Context) any, then func(any) ([]lua.LValue, *waitReq)) *waitReq {
	startPoller() // before the deadline's timer, the runtime's first perhaps
	ctx, cancel := context.WithCancel(context.Background())
	if !deadline.IsZero() {
		ctx, cancel = context.WithDeadline(context.Background(), deadline)
	}
	g := &goWork{cancel: cancel, done: make(chan any, 1), then: then, task: rt.s.cur}
	w := &waitReq{kind: waitGo, op: op, fd: fd, addr: addr, work: g}
	rt.workers.wg.Add(1)
	go func() {
		defer rt.workers.wg.Done()
		g.done <- work(ctx)
		rt.Post(func() { rt.workDone(w) })
	}()
	return w
}

var pollerOnce sync.Once

// startPoller starts the Go runtime's network poller — which a first Go
// timer or socket would start (a context's deadline, a DNS query) — with
// its descriptors above the numbers kept for the session's sockets.
func startPoller() {
	pollerOnce.Do(func() {
		lowfd.KeepLowFDs(func() {
			if r, w, err := os.Pipe(); err == nil { // a pollable file starts the poller
				r.Close()
				w.Close()
			}
		})
	})
}

// workDone finishes the call waiting for w once its goroutine is done,
// unless the wait ended some other way meanwhile.
func (rt *Runtime) workDone(w *waitReq) {
	t := w.work.task
	if t == nil || t.status != taskWaiting || t.wait != w {
		return // interrupted, killed, or waited for outside the scheduler
	}
	res, next := rt.finishWork(w)
	if next == nil {
		rt.wake(t, res)
		return
	}
	// The call goes on to wait for something else (a connect's handshake).
	w.work.cancel()
	next.nret, next.observe = w.nret, w.observe
	t.wait = next
	rt.startWait(t)
}

// finishWork runs w's then with what its goroutine returned, waiting for
// the goroutine if need be.
func (rt *Runtime) finishWork(w *waitReq) (res []lua.LValue, next *waitReq) {
	v := <-w.work.done
	res, _ = rt.guard(w, func() ([]lua.LValue, error) {
		var r []lua.LValue
		r, next = w.work.then(v)
		return r, nil
	})
	return res, next
}

// stopGoroutines stops the goroutines the runtime started: it waits for those
// of waiting calls, which cancelling the tasks has told to stop, and stops
// the watcher of its limits. It is for Close.
func (rt *Runtime) stopGoroutines() {
	rt.workers.wg.Wait()
	rt.stopLimits()
}

// afterLookup runs then, the rest of a call to addr, once addr's host is
// known: at once when it needs no DNS query (a numeric address, localhost,
// a name in the hosts file), else after a lookup that waits. then gets the
// timeout left to the call: the lookup and what follows share one deadline.
// Under --allow a name that needs DNS is refused before anything is sent.
func (rt *Runtime) afterLookup(op string, fd int, addr string, timeout time.Duration, then func(timeout time.Duration) ([]lua.LValue, *waitReq)) ([]lua.LValue, *waitReq) {
	host, err := rt.table.NeedsLookup(op, fd, addr)
	switch {
	case err != nil:
		return failure(err), nil
	case host == "":
		return then(timeout)
	}
	deadline := rt.table.Deadline(fd, timeout)
	names := &rt.table.Names
	type answer struct {
		addrs []netip.Addr
		err   error
	}
	lookup := func(ctx context.Context) any {
		addrs, err := names.Lookup(ctx, host)
		return answer{addrs, err}
	}
	w := rt.goWait(op, fd, addr, deadline, lookup, func(v any) ([]lua.LValue, *waitReq) {
		a := v.(answer)
		var e *sock.Error
		switch {
		case errors.As(a.err, &e):
			return failure(&sock.Error{Op: op, FD: fd, Addr: addr, Err: e.Err, Detail: e.Detail}), nil
		case a.err != nil:
			return failure(a.err), nil
		}
		rt.table.Remember(host, a.addrs)
		if !deadline.IsZero() {
			timeout = max(time.Until(deadline), time.Nanosecond)
		}
		return then(timeout)
	})
	return nil, w
}
