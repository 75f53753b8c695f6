package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/servagent/servagent/pkg/fsutil"
	"github.com/servagent/servagent/pkg/server"
	"github.com/servagent/servagent/pkg/server/servertest"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// serial and returns its pool.
func writeCert(t *testing.T, dir string, serial int64) *x509.CertPool {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "servagent test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	// Key first, then cert, each atomically: the reloader must never serve a
	// mismatched pair (it keeps the old one until both load).
	fsutil.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	fsutil.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	pool := x509.NewCertPool()
	c, _ := x509.ParseCertificate(der)
	pool.AddCert(c)
	return pool
}

func servedSerial(t *testing.T, url string) int64 {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}
	resp, err := (&http.Client{Transport: tr}).Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
}

func TestTLSServesAndReloadsCertificate(t *testing.T) {
	dir := t.TempDir()
	pool := writeCert(t, dir, 1001)
	cfg := servertest.Config(t, map[string]string{
		"SERVAGENT_TLS_CERTFILE": filepath.Join(dir, "cert.pem"),
		"SERVAGENT_TLS_KEYFILE":  filepath.Join(dir, "key.pem"),
	})
	inst := servertest.Start(t, server.Options{Config: cfg})

	// A verifying client and a real MCP session over HTTPS.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	cs, err := servertest.Dial(context.Background(), inst.URL, inst.Key, "streamable", nil, tr)
	if err != nil {
		t.Fatalf("MCP over TLS: %v", err)
	}
	defer cs.Close()
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if s := servedSerial(t, inst.URL); s != 1001 {
		t.Fatalf("serial %d", s)
	}
	// Renewal on disk: the next handshake sees the new certificate.
	time.Sleep(1100 * time.Millisecond) // mtime granularity and the reloader's check interval
	writeCert(t, dir, 2002)
	deadline := time.Now().Add(5 * time.Second)
	for servedSerial(t, inst.URL) != 2002 {
		if time.Now().After(deadline) {
			t.Fatal("new certificate not served without restart")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A broken file keeps the last good certificate.
	time.Sleep(1100 * time.Millisecond)
	os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("garbage"), 0o644)
	time.Sleep(1100 * time.Millisecond)
	if s := servedSerial(t, inst.URL); s != 2002 {
		t.Fatalf("serial after a broken write = %d", s)
	}
}
