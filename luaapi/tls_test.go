package luaapi

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// testCA makes a CA and a certificate it signed for localhost and
// 127.0.0.1 (for a server or a client), in files of a temporary directory: the CA's, the server's
// certificate and its key.
func testCA(t *testing.T) (ca, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sockshell test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost", Organization: []string{"Test"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	return write("ca.pem", "CERTIFICATE", caDER), write("srv.pem", "CERTIFICATE", srvDER), write("srv.key", "EC PRIVATE KEY", keyDER)
}

// fdFree writes the descriptor numbers of messages as FD: a test process
// has descriptors of its own, so the session's first socket is not 3.
func fdFree(vs []lua.LValue) []lua.LValue {
	for i, v := range vs {
		if s, ok := v.(lua.LString); ok {
			vs[i] = lua.LString(fdNumber.ReplaceAllString(string(s), "tls FD"))
		}
	}
	return vs
}

var fdNumber = regexp.MustCompile(`^tls \d+`)

func needOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
}

// freePort returns a loopback address no one listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// sServer starts openssl s_server -www on addr with the certificate and
// waits until it listens.
func sServer(t *testing.T, addr, cert, key string, extra ...string) {
	t.Helper()
	args := append([]string{"s_server", "-accept", addr, "-cert", cert, "-key", key, "-www", "-quiet"}, extra...)
	cmd := exec.Command("openssl", args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if i == 100 {
			t.Fatalf("openssl s_server does not listen on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTLSClientOpenSSL: sockshell's client verifies openssl s_server's
// certificate against the test's CA, and the GET goes through TLS.
func TestTLSClientOpenSSL(t *testing.T) {
	needOpenSSL(t)
	ca, cert, key := testCA(t)
	addr := freePort(t)
	sServer(t, addr, cert, key, "-alpn", "http/1.1")
	got := runOK(t, fmt.Sprintf(`
local c = socket("inet", "stream")
assert(connect(c, %q))
assert(tls(c, "localhost", {ca = %q, alpn = "h2,http/1.1"}))
assert(send(c, "GET / HTTP/1.0\r\n\r\n"))
local status = recvline(c)
local i = info(c)
return status, i.tls_version, i.tls_alpn, i.tls_peer, i.sent`, addr, ca))
	wantResults(t, got, `("HTTP/1.0 200 ok", "TLS 1.3", "http/1.1", "CN=localhost,O=Test", 18)`)
}

// TestTLSVerifyFails: without the CA the server's certificate does not
// verify, and the message says so and what to do; a name the certificate
// is not for fails too.
func TestTLSVerifyFails(t *testing.T) {
	needOpenSSL(t)
	ca, cert, key := testCA(t)
	addr := freePort(t)
	sServer(t, addr, cert, key)
	got := runOK(t, fmt.Sprintf(`
local c = socket("inet", "stream")
assert(connect(c, %q))
local ok, msg, code = tls(c, "localhost")
close(c)
return ok, msg, code`, addr))
	wantResults(t, fdFree(got), `(nil, "tls FD: ETLS: certificate signed by unknown authority (ca=PATH verifies against a CA of your own; insecure skips verification)", "ETLS")`)
	got = runOK(t, fmt.Sprintf(`
local c = socket("inet", "stream")
assert(connect(c, %q))
local ok, msg, code = tls(c, "example.test", {ca = %q})
close(c)
return ok, msg, code`, addr, ca))
	wantResults(t, fdFree(got), `(nil, "tls FD: ETLS: certificate is valid for localhost, not example.test", "ETLS")`)
}

// TestTLSServerOpenSSL: openssl s_client talks to sockshell's server side,
// first with the generated self-signed certificate, then with the test's.
func TestTLSServerOpenSSL(t *testing.T) {
	needOpenSSL(t)
	ca, cert, key := testCA(t)
	for _, tc := range []struct{ name, args, verify string }{
		{"generated", `"server"`, "subject=O = sockshell, CN = localhost"},
		{"given", fmt.Sprintf(`"server", %q, %q`, cert, key), "Verification: OK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSession(t, Config{})
			addr := s.ok(`srv = socket("inet", "stream") assert(bind(srv, "127.0.0.1:0")) assert(listen(srv)) return getsockname(srv)`)[0].String()
			client := exec.Command("openssl", "s_client", "-connect", addr, "-CAfile", ca, "-servername", "localhost", "-ign_eof")
			client.Stdin = strings.NewReader("hello from s_client\n")
			var out bytes.Buffer
			client.Stdout, client.Stderr = &out, &out
			if err := client.Start(); err != nil {
				t.Fatal(err)
			}
			got := s.ok(fmt.Sprintf(`
local c = assert(accept(srv))
assert(tls(c, %s))
local line = recvline(c)
sendline(c, "hello from sockshell")
local i = info(c)
close(c)
return line, i.tls_version, i.tls_peer`, tc.args))
			client.Wait()
			wantResults(t, got, `("hello from s_client", "TLS 1.3", nil)`)
			if !strings.Contains(out.String(), "hello from sockshell") || !strings.Contains(out.String(), tc.verify) {
				t.Errorf("s_client's output lacks the reply or %q:\n%s", tc.verify, out.String())
			}
		})
	}
}

// TestTLSStartTLS: a plain exchange, then TLS on both ends of the same
// connection; the second time the client sends its hello right behind its
// plain line, which the server's recvline reads with the line.
func TestTLSStartTLS(t *testing.T) {
	got := runOK(t, pair+`
local server = spawn(function()
  expect(recvline(a), "STARTTLS")
  assert(sendline(a, "OK"))
  assert(tls(a, "server"))
  expect(recvline(a), "secret")
  assert(sendline(a, "granted"))
  return true
end)
assert(sendline(c, "STARTTLS"))
expect(recvline(c), "OK")
assert(tls(c, "localhost", "insecure"))
assert(sendline(c, "secret"))
local reply = recvline(c)
assert(wait(server))
return reply, info(c).tls_peer, info(a).tls_version`)
	wantResults(t, got, `("granted", "CN=localhost,O=sockshell", "TLS 1.3")`)

	got = runOK(t, pair+`
local server = spawn(function()
  sleep(0.05) -- the client's hello is in by now, behind its line
  expect(recvline(a), "STARTTLS")
  local buffered = info(a).buffered
  assert(tls(a, "server"))
  return buffered, recvline(a)
end)
assert(sendline(c, "STARTTLS"))
assert(tls(c, "localhost", {insecure = true}))
assert(sendline(c, "over tls"))
local buffered, line = wait(server)
return buffered > 0, line`)
	wantResults(t, got, `(true, "over tls")`)
}

// TestTLSHandshakeTimeout: a peer that never speaks TLS leaves the
// handshake waiting until the call's timeout, while other tasks go on;
// one that speaks something else is named.
func TestTLSHandshakeTimeout(t *testing.T) {
	got := runOK(t, pair+`
local ticks = 0
spawn(function() for i = 1, 5 do sleep(0.02) ticks = ticks + 1 end end)
local t0 = now()
local ok, msg, code = tls(c, "localhost", {insecure = true, timeout = 0.3})
local took = now() - t0
return ok, msg, code, took >= 0.3 and took < 2, ticks`)
	wantResults(t, fdFree(got), `(nil, "tls FD: ETIMEDOUT: timed out during the TLS handshake", "ETIMEDOUT", true, 5)`)

	got = runOK(t, pair+`
assert(send(a, "HTTP/1.0 400 Bad Request\r\n\r\n"))
local ok, msg, code = tls(c, "localhost", "insecure")
return ok, msg, code`)
	wantResults(t, fdFree(got), `(nil, "tls FD: ETLS: the peer does not speak TLS (it sent \"HTTP/\")", "ETLS")`)

	got = runOK(t, pair+`
spawn(function() sleep(0.05) close(c) end)
return tls(c, "localhost", "insecure")`)
	wantResults(t, fdFree(got), `(nil, "tls FD: EBADF: descriptor closed while waiting", "EBADF")`)
}

// TestTLSErrors: what tls refuses before any handshake.
func TestTLSErrors(t *testing.T) {
	got := runOK(t, `
local u = socket("inet", "dgram")
local s = socket("inet", "stream")
local r = {}
for _, call in ipairs{{u, "server"}, {s, "server"}, {s, "localhost", "ca=/nonexistent/ca.pem"}} do
  local _, msg = tls(unpack(call))
  r[#r + 1] = msg
end
return unpack(r)`)
	wantResults(t, fdFree(got), `("tls FD: EPROTOTYPE: TLS runs over a stream socket", "tls FD: ENOTCONN: TLS needs a connected socket (connect or accept first)", "tls FD: ENOTCONN: TLS needs a connected socket (connect or accept first)")`)
	got = runOK(t, pair+`
return tls(c, "localhost", "ca=/nonexistent/ca.pem")`)
	wantResults(t, fdFree(got), `(nil, "tls FD /nonexistent/ca.pem: ENOENT: no such file or directory", "ENOENT")`)
	got = newSession(t, Config{Sandbox: true}).ok(pair + `
return tls(c, "localhost", {ca = "ca.pem"})`)
	wantResults(t, fdFree(got), `(nil, "tls FD: EPERM: reading certificate files is refused in --sandbox", "EPERM")`)
}

// TestTrafficLog: log on shows both directions of a session as they go,
// plain and then TLS (its plaintext), text quoted and binary as a
// hexdump; log off stops it.
func TestTrafficLog(t *testing.T) {
	s := newSession(t, Config{})
	fds := s.ok(pair + `
log(true)
send(c, "hello\n")
recv(a)
send(a, "\0\1\2")
recvn(c, 3)
spawn(function() tls(a, "server") sendline(a, "from the server") end)
tls(c, "localhost", "insecure")
recvline(c)
sendframe(c, "ab", "u8")
recvframe(a, "u8")
log(false)
send(c, "not logged")
return c, a`)
	log := s.out.String()
	c, a := fds[0].String(), fds[1].String()
	for _, want := range []string{
		" fd " + c + " > 6 bytes\n  \"hello\\n\"\n",
		" fd " + a + " < 6 bytes\n  \"hello\\n\"\n",
		" fd " + a + " > 3 bytes\n  00000000  00 01 02                                          |...|\n",
		" fd " + c + " < 3 bytes\n",
		" fd " + a + " > 16 bytes\n  \"from the server\\n\"\n",
		" fd " + c + " < 16 bytes\n  \"from the server\\n\"\n",
		" fd " + c + " > 3 bytes\n  00000000  02 61 62",
		" fd " + a + " < 3 bytes\n  00000000  02 61 62",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "not logged") || strings.Count(log, " bytes\n") != 8 {
		t.Errorf("the log has %d entries, not 8, or what came after log off:\n%s", strings.Count(log, " bytes\n"), log)
	}
}

// TestTrafficLogFile: log on FILE appends to the file.
func TestTrafficLogFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "traffic.log")
	s := newSession(t, Config{})
	fds := s.ok(pair + fmt.Sprintf(`
assert(log(true, %q))
send(c, "x")
recv(a)
log(false)
return c, a`, file))
	c, a := fds[0].String(), fds[1].String()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "fd "+c+" > 1 bytes\n  \"x\"\n") || !strings.Contains(string(b), "fd "+a+" < 1 bytes\n  \"x\"\n") || s.out.Len() > 0 {
		t.Errorf("log file:\n%s\noutput:\n%s", b, s.out)
	}
}

// TestTLSWaitsForHandshake: a receive another task makes on a descriptor
// whose handshake is under way waits for it, then reads the plaintext.
func TestTLSWaitsForHandshake(t *testing.T) {
	got := runOK(t, pair+`
spawn(function() assert(tls(a, "server")) end)
local reader = spawn(function() return recvline(a) end)
sleep(0.02)
assert(tls(c, "localhost", "insecure"))
assert(sendline(c, "after the handshake"))
return wait(reader)`)
	wantResults(t, got, `("after the handshake")`)
}

// TestTLSInterrupt: Ctrl-C ends a handshake that waits (EINTR), and the
// descriptor is a plain socket again.
func TestTLSInterrupt(t *testing.T) {
	s := newSession(t, Config{})
	fn, err := s.rt.ls.Load(strings.NewReader(pair+`
local ok, msg, code = tls(c, "localhost", "insecure")
return fdname(msg), code, send(c, "x")`), "=test")
	if err != nil {
		t.Fatal(err)
	}
	s.rt.ls.SetGlobal("fdname", s.rt.ls.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(fdNumber.ReplaceAllString(L.CheckString(1), "tls FD")))
		return 1
	}))
	task := s.rt.Spawn("main", fn)
	go func() {
		time.Sleep(100 * time.Millisecond)
		s.rt.Post(func() { s.rt.Cancel(task, true) })
	}()
	s.rt.RunUntil(task.Done)
	if task.Err() != "" {
		t.Fatal(task.Err())
	}
	wantResults(t, task.Results(), `("tls FD: EINTR: interrupted", "EINTR", 1)`)
}

// TestTrafficLogSandbox: --sandbox refuses a log file, not the log.
func TestTrafficLogSandbox(t *testing.T) {
	got := newSession(t, Config{Sandbox: true}).ok(`
local ok, msg, code = log(true, "traffic.log")
return ok, msg, code, log(true), log(false)`)
	wantResults(t, got, `(nil, "log traffic.log: EPERM: file writes are refused in --sandbox", "EPERM", true, true)`)
}

// TestTLSBulk: 4 MiB through TLS to a reader that takes its time: the
// send waits for room as often as it needs and returns when the last
// record is in the kernel; the reader gets every byte, a small recv the
// rest of a record from the descriptor's buffer, which poll counts.
func TestTLSBulk(t *testing.T) {
	got := runOK(t, pair+`
spawn(function() assert(tls(a, "server")) end)
assert(tls(c, "localhost", "insecure"))
local data = string.rep("0123456789abcdef", 4 * 65536)
local reader = spawn(function()
  local first = assert(recv(a, 10))
  local ready = poll({a}, 0)
  local rest = assert(recvn(a, #data - 10))
  return first .. rest == data, #ready
end)
local n = assert(send(c, data))
local same, ready = wait(reader)
return n, same, ready, info(c).sent, info(a).received`)
	wantResults(t, got, `(4194304, true, 1, 4194304, 4194304)`)
}

// TestTLSClientCertificate: a server with ca= requires a client
// certificate that CA signed, and shows its subject; a client without one
// is refused.
func TestTLSClientCertificate(t *testing.T) {
	ca, cert, key := testCA(t)
	got := runOK(t, pair+fmt.Sprintf(`
local server = spawn(function()
  assert(tls(a, "server", %[2]q, %[3]q, {ca = %[1]q}))
  return info(a).tls_peer, recvline(a)
end)
assert(tls(c, "localhost", {ca = %[1]q, cert = %[2]q, key = %[3]q}))
assert(sendline(c, "it is me"))
return wait(server)`, ca, cert, key))
	wantResults(t, got, `("CN=localhost,O=Test", "it is me")`)

	got = runOK(t, pair+fmt.Sprintf(`
local server = spawn(function() local ok, msg = tls(a, "server", %[2]q, %[3]q, {ca = %[1]q}) return msg end)
local ok = tls(c, "localhost", {ca = %[1]q})
if ok then recv(c) end -- TLS 1.3: the refusal comes after the client's handshake
return wait(server)`, ca, cert, key))
	wantResults(t, fdFree(got), `("tls FD: ETLS: client didn't provide a certificate")`)
}

// TestTLSNoLeaks: handshakes that succeed, time out and are cut short by
// closing the descriptor leave no descriptor open once the session ends
// (the handshake's duplicate is closed with it); goleak checks the
// goroutines.
func TestTLSNoLeaks(t *testing.T) {
	count := func() int {
		names, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(names)
	}
	runOK(t, `x = 1`) // what a first runtime opens for good (the poller)
	before := count()
	s := newSession(t, Config{})
	s.ok(pair + `
spawn(function() assert(tls(a, "server")) end)
assert(tls(c, "localhost", "insecure"))
assert(sendline(c, "x"))
expect(recvline(a), "x")
close(c) close(a)
` + pair + `
fails("ETIMEDOUT", tls, c, "localhost", {insecure = true, timeout = 0.05})
spawn(function() sleep(0.05) close(a) end)
fails("EBADF", tls, a, "server")
close(c)`)
	s.rt.Close()
	if after := count(); after != before {
		t.Errorf("%d descriptors open before the session, %d after", before, after)
	}
}

// TestTLSCloseSendsAll: a client that sends and closes without reading
// gets all its data to the server (socat, over OpenSSL), which sees the
// end of the stream, not a reset: the session tickets a TLS 1.3 server
// sends after the handshake, unread, would make the kernel answer close
// with a reset that drops what the send buffer still holds.
func TestTLSCloseSendsAll(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("socat is not installed")
	}
	_, cert, key := testCA(t)
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	out := filepath.Join(t.TempDir(), "received")
	sink := exec.Command("socat", "-u", "OPENSSL-LISTEN:"+port+",bind=127.0.0.1,cert="+cert+",key="+key+",verify=0", "OPEN:"+out+",creat")
	var stderr bytes.Buffer
	sink.Stderr = &stderr
	if err := sink.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Process.Kill(); sink.Wait() })
	runOK(t, fmt.Sprintf(`
local c = socket("inet", "stream")
for _ = 1, 100 do
  if connect(c, %q) then break end
  close(c) c = socket("inet", "stream") sleep(0.02)
end
assert(tls(c, "localhost", "insecure"))
assert(send(c, string.rep("x", 4 * 2^20)))
assert(close(c))`, addr))
	err := sink.Wait()
	var got int64
	if st, statErr := os.Stat(out); statErr == nil {
		got = st.Size()
	}
	if err != nil || got != 4<<20 {
		t.Errorf("socat: %v %s; received %d bytes, want %d", err, strings.TrimSpace(stderr.String()), got, 4<<20)
	}
}
