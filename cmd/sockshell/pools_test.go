package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tests of the calls that make the seed's process pools, on real
// processes: descriptors passed between two sockshell processes, worker
// processes that die, and the descriptors each process holds at its end.

// procPatience bounds every wait for a line of a process's output.
const procPatience = 20 * time.Second

// proc is a sockshell process whose output the test reads line by line.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	mu    sync.Mutex
	all   []string // every line so far, for failure messages
	done  chan error
}

// startProc runs sockshell ARGS in dir with stdin (if not empty), its
// stdout and stderr read together.
func startProc(t *testing.T, dir, stdin string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "sockshell", args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	p := &proc{cmd: cmd, lines: make(chan string, 1000), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.mu.Lock()
			p.all = append(p.all, sc.Text())
			p.mu.Unlock()
			p.lines <- sc.Text()
		}
		r.Close()
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.all, "\n")
}

// line waits for the next line matching the regular expression re and
// returns its submatches.
func (p *proc) line(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(procPatience)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("sockshell %s ended without a line matching %q; output:\n%s", p.cmd.Args[1:], re, p.output())
			}
			if m := rx.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-deadline:
			t.Fatalf("sockshell %s: no line matching %q after %v; output:\n%s", p.cmd.Args[1:], re, procPatience, p.output())
		}
	}
}

// wait waits for the process to end and fails the test unless it exits 0.
func (p *proc) wait(t *testing.T) {
	t.Helper()
	for range p.lines {
	}
	if err := <-p.done; err != nil {
		t.Fatalf("sockshell %s: %v; output:\n%s", p.cmd.Args[1:], err, p.output())
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPassConnectionBetweenProcesses sends the server side of a TCP
// connection from one sockshell process to another over an AF_UNIX socket:
// the receiver's fds shows it connected, ESTABLISHED, with the addresses
// the sender saw, and the conversation carries on there after the sender
// closed its copy. peercred on each side names the other process.
func TestPassConnectionBetweenProcesses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"receiver.lua": `
lst = assert(socket("unix", "stream"))
assert(bind(lst, arg[1]))
assert(listen(lst))
print("ready")
`,
		"sender.lua": `
local srv = assert(socket("inet", "stream"))
assert(bind(srv, "127.0.0.1:0"))
assert(listen(srv))
local cli = assert(socket("inet", "stream"))
assert(connect(cli, getsockname(srv)))
local conn = assert(accept(srv))
print("server side", getsockname(conn), getpeername(conn))
local chan = assert(socket("unix", "stream"))
assert(connect(chan, arg[1]))
print("peer", peercred(chan))
assert(sendfd(chan, conn, "x"))
close(conn)
expect(info(conn), nil)
assert(sendline(cli, "hello receiver"))
expect(recvline(cli), "receiver here")
assert(sendline(cli, "bye"))
expect(recv(cli), "")
print("sender done")
`,
	})
	path := filepath.Join(dir, "chan.sock")
	session := `chan = accept(lst)
conn = recvfd(chan)
print("peer", peercred(chan))
fds
print("says", recvline(conn))
sendline(conn, "receiver here")
print("says", recvline(conn))
close(conn)
`
	recv := startProc(t, dir, session, "-i", "receiver.lua", path)
	recv.line(t, "^ready$")
	send := startProc(t, dir, "", "sender.lua", path)
	side := send.line(t, `^server side\t(\S+)\t(\S+)$`)
	sendPeer := send.line(t, `^peer\t(\d+)\t\d+\t\d+$`)
	recvPeer := recv.line(t, `^peer\t(\d+)\t\d+\t\d+$`)
	row := recv.line(t, `^(\d+) +inet +stream +(\S+) +(\S+) +(\S+) +(\S+) `)
	if row[2] != "connected" || row[3] != "ESTABLISHED" || row[4] != side[1] || row[5] != side[2] {
		t.Errorf("the receiver's row %q; want connected ESTABLISHED %s %s", row[0], side[1], side[2])
	}
	recv.line(t, "^says\thello receiver$")
	recv.line(t, "^says\tbye$")
	send.line(t, "^sender done$")
	if got, want := sendPeer[1], strconv.Itoa(recv.cmd.Process.Pid); got != want {
		t.Errorf("the sender's peercred names pid %s; the receiver is %s", got, want)
	}
	if got, want := recvPeer[1], strconv.Itoa(send.cmd.Process.Pid); got != want {
		t.Errorf("the receiver's peercred names pid %s; the sender is %s", got, want)
	}
	send.wait(t)
	recv.wait(t)
}

// TestWorkerKilled kills one of three workers sharing a listener with
// SIGKILL while it holds a connection with unread data: that connection is
// reset, the other workers go on serving, and wait names how it ended.
func TestWorkerKilled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"pool.lua": `
if worker then
  local srv = inherited[1]
  while true do
    local conn = assert(accept(srv, 30))
    local line = assert(recvline(conn))
    if line == "hold" then
      assert(sendline(conn, "held by " .. worker))
      sleep(30)                -- never reads what follows: killed first
    elseif line == "quit" then
      close(srv)
      assert(sendline(conn, "bye"))
      close(conn)
      return
    else
      assert(sendline(conn, worker .. ": " .. line))
      close(conn)
    end
  end
end
local srv = assert(socket("inet", "stream"))
assert(bind(srv, "127.0.0.1:0"))
assert(listen(srv))
local addr = getsockname(srv)
local pool = assert(workers(3, arg[0], {srv}))
local function ask(line)
  local fd = assert(socket("inet", "stream"))
  assert(connect(fd, addr))
  assert(sendline(fd, line))
  return fd, assert(recvline(fd))
end
local held, reply = ask("hold")
local victim = tonumber(reply:match("held by (%d)"))
assert(send(held, "unread bytes"))
print("kill", pool[victim].pid)
expect(select(3, recv(held, 100, 20)), "ECONNRESET")
print("reset")
local ok, msg, code = wait(pool[victim])
expect(code, "ETASK")
print("ended", msg)
for i = 1, 20 do
  local fd, answer = ask("ping " .. i)
  local who = tonumber(answer:match("^(%d): ping " .. i .. "$"))
  expect(who ~= nil and who ~= victim, true, "answered by " .. answer)
  close(fd)
end
print("others served")
for _ = 1, 2 do
  local fd, answer = ask("quit")
  expect(answer, "bye")
  close(fd)
end
local ok, msg, code = wait(pool)
expect(code, "ETASK")
print("pool", msg)
`})
	p := startProc(t, dir, "", "pool.lua")
	pid, _ := strconv.Atoi(p.line(t, `^kill\t(\d+)$`)[1])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.line(t, "^reset$")
	p.line(t, fmt.Sprintf(`^ended\tworker \d \(pid %d\): killed by SIGKILL$`, pid))
	p.line(t, "^others served$")
	p.line(t, fmt.Sprintf(`^pool\tworker \d \(pid %d\): killed by SIGKILL$`, pid))
	p.wait(t)
}

// fdsOf lists the open descriptors of process pid: the session's (below
// 48) and sockshell's own (48 and above), with what each is.
func fdsOf(t *testing.T, pid int) (session []int, own map[int]string) {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	own = map[int]string{}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		what, _ := os.Readlink(filepath.Join(dir, e.Name()))
		if fd >= 48 {
			own[fd] = what
		} else {
			session = append(session, fd)
		}
	}
	sort.Ints(session)
	return session, own
}

// TestNoDescriptorsLeftInProcesses: a parent and its workers pass sockets
// around (inherited at exec, sent with sendfd, received, closed); at the
// end each process holds exactly the descriptors its table lists, and of
// its own only its two epolls and two eventfds (no pipe of a worker that
// ended, no extra descriptor a peer sent).
func TestNoDescriptorsLeftInProcesses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"leaks.lua": `
local function table_fds()
  local list = {}
  for _, r in ipairs(fds()) do list[#list + 1] = r.fd end
  return table.concat(list, ",")
end
if worker then
  local chan, srv = inherited[1], inherited[2]
  local conn = assert(recvfd(chan))     -- one each: the pair's end is shared
  expect(recvline(conn), "hello")
  assert(sendline(conn, "from worker " .. worker))
  close(conn)
  close(chan)
  local a, b = assert(socketpair("unix", "seqpacket"))
  close(a)
  print("end", table_fds())
  sleep(1.5)
  return
end
local srv = assert(socket("inet", "stream"))
assert(bind(srv, "127.0.0.1:0"))
assert(listen(srv))
local mine, theirs = assert(socketpair("unix", "dgram"))
local pool = assert(workers(2, arg[0], {theirs, srv}))
close(theirs)
for i = 1, 2 do print("worker", pool[i].pid) end
local clients = {}
for i = 1, 2 do
  clients[i] = assert(socket("inet", "stream"))
  assert(connect(clients[i], getsockname(srv)))
  local conn = assert(accept(srv))
  assert(sendfd(mine, conn))
  close(conn)
end
local answered = {}
for i = 1, 2 do
  assert(sendline(clients[i], "hello"))
  local who = assert(recvline(clients[i])):match("^from worker (%d)$")
  answered[who] = true
  close(clients[i])
end
expect(answered["1"] and answered["2"], true, "both workers answered")
assert(wait(pool))
local kept = assert(socket("inet6", "dgram"))
print("end", table_fds())
sleep(1.5)
`})
	p := startProc(t, dir, "", "leaks.lua")
	var pids []int
	for range 2 {
		pid, _ := strconv.Atoi(p.line(t, `^worker\t(\d+)$`)[1])
		pids = append(pids, pid)
	}
	for range 2 {
		m := p.line(t, `^\[(\d)\] end\t(.*)$`)
		n, _ := strconv.Atoi(m[1])
		checkFDs(t, fmt.Sprintf("worker %d", n), pids[n-1], m[2])
	}
	checkFDs(t, "the parent", p.cmd.Process.Pid, p.line(t, `^end\t(.*)$`)[1])
	p.wait(t)
}

// checkFDs compares process pid's open descriptors with the table it
// printed ("3,4,7").
func checkFDs(t *testing.T, who string, pid int, table string) {
	t.Helper()
	session, own := fdsOf(t, pid)
	var got []string
	for _, fd := range session {
		got = append(got, strconv.Itoa(fd))
	}
	if strings.Join(got, ",") != table {
		t.Errorf("%s (pid %d) holds descriptors %v below 48; its table lists %q", who, pid, got, table)
	}
	kinds := map[string]int{}
	for _, what := range own {
		kinds[what]++
	}
	// The scheduler's epoll and eventfd, and Go's poller's.
	if len(own) != 4 || kinds["anon_inode:[eventpoll]"] != 2 || kinds["anon_inode:[eventfd]"] != 2 {
		t.Errorf("%s (pid %d) holds %v of its own; want two epolls and two eventfds", who, pid, own)
	}
}

// TestMinusJ runs sockshell -j 4 on an echo server that binds its own
// SO_REUSEPORT listener in each worker: an echo load from another process
// reaches all four, each line of a worker's output starts with its number,
// and the pool ends when each worker is told to quit.
func TestMinusJ(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"echo.lua": `
local srv = assert(socket("inet", "stream"))
assert(setopt(srv, "reuseport", true))
assert(bind(srv, arg[1]))
assert(listen(srv))
print("listening")
local served = 0
while true do
  local conn = assert(accept(srv, 30))
  local line = assert(recvline(conn))
  if line == "quit" then
    close(srv)
    assert(sendline(conn, "bye"))
    close(conn)
    break
  end
  assert(sendline(conn, worker .. " " .. line))
  close(conn)
  served = served + 1
end
print("served", served)
`,
		"load.lua": `
local seen, count = {}, 0
for i = 1, 400 do
  local fd = assert(socket("inet", "stream"))
  assert(connect(fd, arg[1]))
  assert(sendline(fd, "echo " .. i))
  local who = assert(recvline(fd)):match("^(%d) echo " .. i .. "$")
  close(fd)
  if not seen[who] then seen[who], count = true, count + 1 end
  if count == 4 and i >= 40 then break end
end
expect(count, 4)
for _ = 1, 4 do
  local fd = assert(socket("inet", "stream"))
  assert(connect(fd, arg[1]))
  assert(sendline(fd, "quit"))
  expect(recvline(fd), "bye")
  close(fd)
end
print("all four answered")
`,
	})
	// A port for the pool: bound and closed here, then bound by each
	// worker with SO_REUSEPORT.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	pool := startProc(t, dir, "", "-j", "4", "echo.lua", addr)
	for range 4 {
		pool.line(t, `^\[[1-4]\] listening$`)
	}
	load := startProc(t, dir, "", "load.lua", addr)
	load.line(t, "^all four answered$")
	load.wait(t)
	served := map[string]bool{}
	for range 4 {
		m := pool.line(t, `^\[([1-4])\] served\t(\d+)$`)
		if m[2] == "0" {
			t.Errorf("worker %s served no connection", m[1])
		}
		served[m[1]] = true
	}
	if len(served) != 4 {
		t.Errorf("workers that said they served: %v", served)
	}
	pool.wait(t)
}

// gone waits until process pid has ended (or is a zombie no one reaped).
func gone(t *testing.T, who string, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// pid (comm) STATE ...: the command may hold spaces and parentheses
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("%s (pid %d) still runs 10s after its parent stopped", who, pid)
}

// TestWorkersStopWithParent: the workers end when the parent's main task
// ends, when it is sent SIGTERM, and when it is killed with SIGKILL (the
// kernel's PR_SET_PDEATHSIG).
func TestWorkersStopWithParent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"parent.lua": `
if worker then
  print("up")
  sleep(3600)
  return
end
local pool = assert(workers(2, arg[0]))
for i = 1, 2 do print("worker", pool[i].pid) end
if arg[1] == "wait" then sleep(3600) end
sleep(0.3)
`})
	for _, how := range []string{"main ends", "SIGTERM", "SIGKILL"} {
		t.Run(how, func(t *testing.T) {
			args := []string{"parent.lua"}
			if how != "main ends" {
				args = append(args, "wait")
			}
			p := startProc(t, dir, "", args...)
			var pids []int
			for range 2 {
				pid, _ := strconv.Atoi(p.line(t, `^worker\t(\d+)$`)[1])
				pids = append(pids, pid)
			}
			p.line(t, `^\[\d\] up$`)
			p.line(t, `^\[\d\] up$`)
			switch how {
			case "SIGTERM":
				p.cmd.Process.Signal(syscall.SIGTERM)
			case "SIGKILL":
				p.cmd.Process.Kill()
			}
			for range p.lines {
			}
			err := <-p.done
			switch how {
			case "main ends":
				if err != nil {
					t.Errorf("parent: %v; want exit 0\n%s", err, p.output())
				}
			case "SIGTERM":
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 143 {
					t.Errorf("parent: %v; want exit status 143\n%s", err, p.output())
				}
			}
			for i, pid := range pids {
				gone(t, fmt.Sprintf("worker %d", i+1), pid)
			}
		})
	}
}
