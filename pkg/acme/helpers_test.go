package acme

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servagent/servagent/pkg/logtest"
)

// logBuf collects a test's logs; goroutines (lego's global logger, Run) may
// write after the test ends, which t.Log would turn into a panic.
type logBuf struct{ logtest.Buffer }

func (l *logBuf) Count(s string) int { return strings.Count(l.String(), s) }

// testLogger returns a debug logger whose output is shown if the test fails
// (or with -v).
func testLogger(t *testing.T) (*slog.Logger, *logBuf) {
	t.Helper()
	buf := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			t.Logf("---- logs ----\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// selfSigned makes the placeholder certificate a server uses before ACME has
// issued anything.
func selfSigned(t testing.TB, name string, notAfter time.Time) (*tls.Certificate, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pemEncode("CERTIFICATE", der)
	keyPEM := pemEncode("EC PRIVATE KEY", keyDER)
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &c, certPEM, keyPEM
}

// reloader is the kind of GetCertificate the server's TLS layer uses: it
// reloads the pair when the chain file was replaced (rename => new inode) and
// keeps the previous pair when the files don't (yet) match.
type reloader struct {
	certFile, keyFile string
	mu                sync.Mutex
	seen              os.FileInfo
	cur               *tls.Certificate
}

func (r *reloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if fi, err := os.Stat(r.certFile); err == nil && (r.seen == nil || !os.SameFile(fi, r.seen) || fi.ModTime() != r.seen.ModTime()) {
		if c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile); err == nil {
			r.cur, r.seen = &c, fi
		}
	}
	return r.cur, nil
}

func pemEncode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
