// Package pebbletest starts a throw-away Pebble ACME CA (via pebble-up.sh) for a
// Go test and stops it (via pebble-down.sh) when the test ends. Standard
// library only, so any package's tests can use it.
//
//	env := pebbletest.Start(t, "../../scripts/testinfra/pebble-up.sh") // path from the package dir
//	// env.DirectoryURL, env.CACert (trust for the ACME API), env.HTTP01Port, ...
//
// Ports are chosen at random (PEBBLE_PORTS=auto), so tests in different
// packages or t.Parallel() tests can each run their own Pebble.
package pebbletest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Env is what pebble-up.sh reported.
type Env struct {
	StateDir      string // config, logs (pebble.log, challtestsrv.log), certs
	DirectoryURL  string // ACME directory, e.g. https://127.0.0.1:PORT/dir
	CACert        string // PEM file: trust this for the ACME API's HTTPS (LEGO_CA_CERTIFICATES)
	IssuerRoot    string // PEM file: root that signs the issued certificates
	MgmtURL       string // pebble management API (https, same CACert)
	Host          string // 127.0.0.1
	HTTP01Port    int    // pebble validates HTTP-01 by connecting to Host:HTTP01Port
	TLSALPN01Port int    // pebble validates TLS-ALPN-01 by connecting to Host:TLSALPN01Port
	ChallSrvMgmt  string // pebble-challtestsrv management API (http)
	Vars          map[string]string
}

// Start runs the pebble-up.sh at script (path relative to the test's package
// directory, or absolute; $SERVAGENT_PEBBLE_UP overrides it) with extraEnv
// (KEY=VALUE, e.g. "PEBBLE_CERT_VALIDITY_SECONDS=120") and registers cleanup.
// It skips the test only under -short or when SERVAGENT_ACME_E2E=0, and
// fails it if Pebble cannot start, so CI can't pass silently without ACME tests.
func Start(t testing.TB, script string, extraEnv ...string) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("ACME end-to-end test skipped in -short mode")
	}
	if os.Getenv("SERVAGENT_ACME_E2E") == "0" {
		t.Skip("ACME end-to-end test skipped: SERVAGENT_ACME_E2E=0")
	}
	if s := os.Getenv("SERVAGENT_PEBBLE_UP"); s != "" {
		script = s
	}
	script, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	down := filepath.Join(filepath.Dir(script), "pebble-down.sh")

	// Two attempts: on a loaded 2-core CI box a start can time out, and two
	// parallel starts can race for the same random port. A second failure fails.
	var stateDir string
	var out []byte
	for attempt := 1; ; attempt++ {
		stateDir = t.TempDir() // removed after our Cleanup below (LIFO)
		var stderr bytes.Buffer
		out, err = runUp(script, stateDir, extraEnv, &stderr)
		if err == nil {
			break
		}
		if attempt == 2 {
			t.Fatalf("pebble-up.sh failed twice; last: %v\n%s", err, stderr.String())
		}
		t.Logf("pebble-up.sh failed (%v), retrying once:\n%s", err, stderr.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{"pebble.log", "challtestsrv.log"} {
				b, _ := os.ReadFile(filepath.Join(stateDir, f))
				t.Logf("---- %s ----\n%s", f, b)
			}
		}
		c := exec.Command("bash", down, stateDir)
		c.Env = append(os.Environ(), "PEBBLE_KEEP_STATE=1") // t.TempDir removes it
		if b, err := c.CombinedOutput(); err != nil {
			t.Errorf("pebble-down.sh: %v\n%s", err, b)
		}
	})

	e := &Env{Vars: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			e.Vars[k] = v
		}
	}
	atoi := func(k string) int {
		n, err := strconv.Atoi(e.Vars[k])
		if err != nil {
			t.Fatalf("pebble-up.sh: bad %s=%q", k, e.Vars[k])
		}
		return n
	}
	e.StateDir = e.Vars["PEBBLE_STATE_DIR"]
	e.DirectoryURL = e.Vars["ACME_DIRECTORY_URL"]
	e.CACert = e.Vars["ACME_CA_CERT"]
	e.IssuerRoot = e.Vars["PEBBLE_ISSUER_ROOT"]
	e.MgmtURL = e.Vars["PEBBLE_MGMT_URL"]
	e.Host = e.Vars["PEBBLE_HOST"]
	e.HTTP01Port = atoi("PEBBLE_HTTP01_PORT")
	e.TLSALPN01Port = atoi("PEBBLE_TLSALPN01_PORT")
	e.ChallSrvMgmt = e.Vars["CHALLTESTSRV_MGMT_URL"]
	if e.DirectoryURL == "" || e.CACert == "" {
		t.Fatalf("pebble-up.sh printed no directory/CA:\n%s", out)
	}
	return e
}

func runUp(script, stateDir string, extraEnv []string, stderr *bytes.Buffer) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // first run builds pebble
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	// 90 s readiness budget (script default 30 s): parallel test binaries on 2 cores are slow to start.
	cmd.Env = append(os.Environ(), "PEBBLE_PORTS=auto", "PEBBLE_STATE_DIR="+stateDir)
	if os.Getenv("PEBBLE_START_TIMEOUT") == "" {
		cmd.Env = append(cmd.Env, "PEBBLE_START_TIMEOUT=90")
	}
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stderr = stderr
	return cmd.Output()
}

// HTTPClient returns a client that trusts the ACME API's (and management API's) TLS cert.
func (e *Env) HTTPClient(t testing.TB) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(e.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certs in %s", e.CACert)
	}
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
}

// IssuerPool returns a pool with the root that signed the issued certificates,
// for verifying them (chain: leaf + Pebble intermediate, both in the bundle).
func (e *Env) IssuerPool(t testing.TB) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(e.IssuerRoot)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("no certs in %s", e.IssuerRoot)
	}
	return pool
}

// SetRenewalWindow makes pebble's ARI endpoint answer the given window for the
// certificate (first CERTIFICATE block of certPEM is used). A window in the
// past means "renew now" to an RFC 9773 client.
func (e *Env) SetRenewalWindow(t testing.TB, certPEM []byte, start, end time.Time) {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("SetRenewalWindow: no PEM block")
	}
	ari, _ := json.Marshal(map[string]any{"suggestedWindow": map[string]string{
		"start": start.UTC().Format(time.RFC3339), "end": end.UTC().Format(time.RFC3339)}})
	body, _ := json.Marshal(map[string]string{
		"Certificate": string(pem.EncodeToMemory(block)), "ARIResponse": string(ari)})
	resp, err := e.HTTPClient(t).Post(e.MgmtURL+"/set-renewal-info/", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set-renewal-info: %s", resp.Status)
	}
}

func (e *Env) String() string {
	return fmt.Sprintf("pebble at %s (state %s)", e.DirectoryURL, e.StateDir)
}
