package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// tlsCipher is the one cipher suite OpenSSL offers and accepts in the TLS
// benchmark (through OPENSSL_CONF), so that both senders use the cipher
// crypto/tls prefers on a CPU with AES instructions.
const tlsCipher = "TLS_AES_128_GCM_SHA256"

const opensslConf = `openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Ciphersuites = ` + tlsCipher + `
`

func (s *suite) tlsBulk() *section {
	total, chunk := s.size.bulkBytes, s.size.bulkChunk
	sec := &section{
		title: fmt.Sprintf("6. TLS bulk: %s sent over TLS on loopback TCP in %d KiB sends to a socat TLS sink", size(total), chunk>>10),
		notes: []string{
			fmt.Sprintf("sink: socat -u -b %d OPENSSL-LISTEN:PORT,bind=127.0.0.1,reuseaddr,cert=CERT,key=KEY,verify=0 OPEN:/dev/null (one per run; a self-signed P-256 certificate made for the run)", largeSink),
			fmt.Sprintf("socat sender: socat -u -b %d OPEN:/dev/zero,readbytes=%d OPENSSL:127.0.0.1:PORT,verify=0", chunk, total),
			"sockshell sender: bench/lua/bulk.lua ADDR TOTAL CHUNK tls: tls(fd, {insecure = true}) (crypto/tls), then the same send loop",
			"OpenSSL (sink and socat sender) is given OPENSSL_CONF with Ciphersuites = " + tlsCipher + "; cipher: what each connection used",
		},
		header: []string{"contender", "wall", "throughput", "wall fastest .. slowest", "send loop", "CPU user + sys", "cipher", "vs socat"},
	}
	if skip := s.whyNot("socat"); skip != "" {
		sec.skipped = skip
		return sec
	}
	cert, key, err := s.selfSigned()
	if err == nil {
		conf := filepath.Join(s.work, "openssl.cnf")
		err = os.WriteFile(conf, []byte(opensslConf), 0o644)
		prev, had := os.LookupEnv("OPENSSL_CONF")
		os.Setenv("OPENSSL_CONF", conf)
		defer func() {
			if had {
				os.Setenv("OPENSSL_CONF", prev)
			} else {
				os.Unsetenv("OPENSSL_CONF")
			}
		}()
	}
	if err != nil {
		s.fail("tls: %v", err)
		sec.skipped = err.Error()
		return sec
	}
	ciphers := map[*contender]string{}
	run := func(c *contender, argv func(e bulkEnd) []string) func() (outcome, error) {
		return func() (outcome, error) {
			e, err := s.bulkEndpoint("tcp")
			if err != nil {
				return outcome{}, err
			}
			var used string
			sinkArgv := []string{s.tools["socat"], "-d", "-d", "-u", "-b", strconv.Itoa(largeSink),
				strings.Replace(e.listen, "TCP-LISTEN:", "OPENSSL-LISTEN:", 1) + ",cert=" + cert + ",key=" + key + ",verify=0", "OPEN:/dev/null"}
			o, err := s.timeToSinkLog(sinkArgv, e.ready, argv(e), &used)
			if m := sinkCipher.FindStringSubmatch(used); m != nil {
				ciphers[c] = m[1]
			}
			return o, err
		}
	}
	shell := &contender{name: "sockshell", skip: s.whyNoShell()}
	shell.run = run(shell, func(e bulkEnd) []string {
		return []string{s.sockshell, s.file("lua/bulk.lua"), e.addr, strconv.FormatInt(total, 10), strconv.Itoa(chunk), "tls"}
	})
	socat := &contender{name: "socat"}
	socat.run = run(socat, func(e bulkEnd) []string {
		return []string{s.tools["socat"], "-u", "-b", strconv.Itoa(chunk),
			"OPEN:/dev/zero,readbytes=" + strconv.FormatInt(total, 10), strings.Replace(e.connect, "TCP:", "OPENSSL:", 1) + ",verify=0"}
	})
	cs := []*contender{shell, socat}
	s.logf("TLS bulk: %s x %d runs", size(total), s.runs)
	s.alternate("TLS bulk", s.runs, cs)
	for _, c := range cs {
		if !c.ok() {
			sec.add(c.name, c.status())
			continue
		}
		vs := "-"
		if socat.ok() {
			vs = fmt.Sprintf("%.2fx", c.wall()/socat.wall())
		}
		cipher := ciphers[c]
		if cipher == "" {
			cipher = "?"
		}
		sec.add(c.name, secs(c.wall()), fmt.Sprintf("%.0f MiB/s", float64(total)/(1<<20)/c.wall()),
			spread(c.values(func(o outcome) float64 { return o.wall.Seconds() })), secs(c.loop()), c.cpu(), cipher, vs)
	}
	sec.ratioTarget("sockshell/socat wall time <= 1.0", shell, socat, (*contender).wall, 1.0, false)
	return sec
}

// sinkCipher finds the cipher in socat's -d -d log: "SSL connection using
// TLS_AES_128_GCM_SHA256".
var sinkCipher = regexp.MustCompile(`SSL connection using (\S+)`)

// timeToSinkLog is timeToSink that also gives the sink's log (stderr).
func (s *suite) timeToSinkLog(sinkArgv []string, ready func(*proc) error, argv []string, log *string) (outcome, error) {
	var sink *proc
	o, err := s.timeToSink(sinkArgv, func(p *proc) error { sink = p; return ready(p) }, argv)
	if sink != nil {
		sink.stop()
		*log = sink.stderr.String()
	}
	return o, err
}

// selfSigned writes a throwaway certificate and key for the TLS sink to
// the suite's directory and returns their paths.
func (s *suite) selfSigned() (cert, key string, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return "", "", err
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return "", "", err
	}
	cert, key = filepath.Join(s.work, "tls-cert.pem"), filepath.Join(s.work, "tls-key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	return cert, key, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
}
