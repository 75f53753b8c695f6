package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/servagent/servagent/internal/testutil/pebbletest"
	"github.com/servagent/servagent/pkg/acme"
	"github.com/servagent/servagent/pkg/server/servertest"
)

const pebbleUp = "../../scripts/testinfra/pebble-up.sh"

// TestServeRenewsItsCertificateInProcess runs `serve` with an ACME-managed
// certificate on the port Pebble validates TLS-ALPN-01 against. The first
// certificate comes from an HTTP-01 order (as install does); with a 30 s
// validity, serve's own renewal loop must order a new one through its
// serving port and swap it in: the serial a TLS client sees changes while
// the same process keeps serving MCP.
func TestServeRenewsItsCertificateInProcess(t *testing.T) {
	env := pebbletest.Start(t, pebbleUp, "PEBBLE_CERT_VALIDITY_SECONDS=30")
	const domain = "renew.servagent.test"
	state := t.TempDir()
	m, err := acme.New(acme.Options{Domain: domain, DirectoryURL: env.DirectoryURL, CAFile: env.CACert, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	// First certificate, HTTP-01 answered from our own listener.
	ln80, err := net.Listen("tcp", net.JoinHostPort(env.Host, strconv.Itoa(env.HTTP01Port)))
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: m.HTTPHandler(nil)}
	go hs.Serve(ln80)
	if err := m.Obtain(context.Background(), acme.HTTP01); err != nil {
		t.Fatalf("first certificate: %v", err)
	}
	hs.Close()

	ln, err := net.Listen("tcp", net.JoinHostPort(env.Host, strconv.Itoa(env.TLSALPN01Port)))
	if err != nil {
		t.Fatal(err)
	}
	opts := &ServeOptions{LookupEnv: noEnv(map[string]string{
		"SERVAGENT_API_KEY":           "acme-key-123",
		"SERVAGENT_WORK_DIR":          t.TempDir(),
		"SERVAGENT_STATE_DIR":         state,
		"SERVAGENT_ACME_DOMAIN":       domain,
		"SERVAGENT_ACME_DIRECTORY":    env.DirectoryURL,
		"SERVAGENT_ACME_CA_FILE":      env.CACert,
		"SERVAGENT_ACME_RENEW_BEFORE": "720h",
	})}
	// serveInBackground makes its own listener; hand it this one instead.
	addr := serveOn(t, opts, ln)

	pool := env.IssuerPool(t)
	serial := func() string {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: domain, RootCAs: pool})
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer conn.Close()
		return fmt.Sprintf("%x", conn.ConnectionState().PeerCertificates[0].SerialNumber)
	}
	first := serial()
	tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: domain, RootCAs: pool}}
	cs, err := servertest.Dial(context.Background(), "https://"+addr, "acme-key-123", "streamable", nil, tr)
	if err != nil {
		t.Fatalf("MCP over the ACME certificate: %v", err)
	}
	cs.Close()

	deadline := time.Now().Add(90 * time.Second)
	for serial() == first {
		if time.Now().After(deadline) {
			t.Fatalf("certificate %s not renewed within 90 s", first)
		}
		time.Sleep(time.Second)
	}
	cs, err = servertest.Dial(context.Background(), "https://"+addr, "acme-key-123", "streamable", nil, tr.Clone())
	if err != nil {
		t.Fatalf("MCP after renewal: %v", err)
	}
	cs.Close()
}
