package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/certcrypto"

	"github.com/servagent/servagent/internal/testutil/pebbletest"
)

// Path from this package's directory (go test runs with cwd = package dir).
const upScript = "../../scripts/testinfra/pebble-up.sh"

const testDomain = "servagent.test" // challtestsrv resolves every name to 127.0.0.1

func newPebbleManager(t *testing.T, env *pebbletest.Env) (*Manager, *logBuf) {
	t.Helper()
	log, buf := testLogger(t)
	m, err := New(Options{
		Domain: testDomain, Email: "admin@servagent.test", DirectoryURL: env.DirectoryURL,
		CAFile: env.CACert, StateDir: t.TempDir(), Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, buf
}

func listen(t *testing.T, host string, port int) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// verifyOnDisk checks the issued chain against Pebble's issuer root, the key
// pair, and the 0600/0700 modes; it returns the leaf.
func verifyOnDisk(t *testing.T, env *pebbletest.Env, m *Manager) *x509.Certificate {
	t.Helper()
	chain, err := os.ReadFile(m.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	certs, err := certcrypto.ParsePEMBundle(chain)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) < 2 {
		t.Fatalf("fullchain.pem holds %d certificate(s), want leaf + intermediate", len(certs))
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{DNSName: testDomain, Roots: env.IssuerPool(t), Intermediates: inter}); err != nil {
		t.Fatalf("issued chain does not verify: %v", err)
	}
	if _, err := tls.LoadX509KeyPair(m.CertFile(), m.KeyFile()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{m.CertFile(), m.KeyFile(), m.accountKeyFile(), m.accountJSONFile()} {
		if got := mode(t, f); got != 0o600 {
			t.Errorf("%s mode %o, want 600", f, got)
		}
	}
	for _, d := range []string{m.certDir(), filepath.Dir(m.certDir()), m.accountDir()} {
		if got := mode(t, d); got != 0o700 {
			t.Errorf("%s mode %o, want 700", d, got)
		}
	}
	var acct accountFile
	b, _ := os.ReadFile(m.accountJSONFile())
	if err := json.Unmarshal(b, &acct); err != nil || acct.DirectoryURL != env.DirectoryURL || acct.Registration.Location == "" {
		t.Errorf("account.json = %s (%v)", b, err)
	}
	return certs[0]
}

func noPendingChallenges(t *testing.T, m *Manager) {
	t.Helper()
	m.chMu.RLock()
	defer m.chMu.RUnlock()
	if len(m.httpTokens)+len(m.alpnCerts) != 0 {
		t.Errorf("challenges left behind: %d tokens, %d certs", len(m.httpTokens), len(m.alpnCerts))
	}
}

// HTTP-01 answered by HTTPHandler on a server that was already running on
// Pebble's HTTP-01 port (servagent's :80), with the fallback still serving.
func TestObtainHTTP01(t *testing.T) {
	t.Parallel()
	env := pebbletest.Start(t, upScript)
	m, buf := newPebbleManager(t, env)

	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "redirect-to-https") })
	var cur atomic.Value // the port-80 handler; swapped when the "restarted" Manager takes over
	cur.Store(m.HTTPHandler(fallback))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur.Load().(http.Handler).ServeHTTP(w, r)
	})}
	l := listen(t, env.Host, env.HTTP01Port)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	t0 := time.Now()
	if err := m.Obtain(t.Context(), HTTP01); err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE obtain http-01: %s", time.Since(t0).Round(time.Millisecond))
	leaf := verifyOnDisk(t, env, m)
	noPendingChallenges(t, m)
	if na, err := m.NotAfter(); err != nil || !na.Equal(leaf.NotAfter) {
		t.Errorf("NotAfter = %v, %v", na, err)
	}
	if need, err := m.NeedsRenewal(time.Now(), 30*24*time.Hour); need || err != nil {
		t.Errorf("fresh 90-day cert: NeedsRenewal = %v, %v", need, err)
	}
	// A restart (new Manager, same state dir) reuses the saved account.
	m2, err := New(m.opts)
	if err != nil {
		t.Fatal(err)
	}
	cur.Store(m2.HTTPHandler(fallback))
	t1 := time.Now()
	if err := m2.Obtain(t.Context(), HTTP01); err != nil {
		t.Fatal(err)
	}
	t.Logf("second obtain (saved account, ARI replaces): %s", time.Since(t1).Round(time.Millisecond))
	if n := buf.Count("registered ACME account"); n != 1 {
		t.Errorf("account registered %d times, want once", n)
	}
	if second := verifyOnDisk(t, env, m2); second.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Error("second obtain kept the old certificate")
	}

	resp, err := http.Get(fmt.Sprintf("http://%s/", l.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "redirect-to-https" {
		t.Errorf("fallback answered %q", body)
	}
}

// tlsServer is servagent's :443 in miniature: one listener serving normal
// HTTPS (h2) with whatever the reloader finds on disk (a self-signed
// placeholder first) and answering TLS-ALPN-01 through TLSConfigHooks.
func tlsServer(t *testing.T, env *pebbletest.Env, m *Manager) (addr string, r *reloader) {
	t.Helper()
	placeholder, _, _ := selfSigned(t, testDomain, time.Now().Add(time.Hour))
	r = &reloader{certFile: m.CertFile(), keyFile: m.KeyFile(), cur: placeholder}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello over "+r.Proto)
		}),
		TLSConfig: &tls.Config{GetCertificate: TLSConfigHooks(m, r.get)},
	}
	ConfigureServer(srv)
	l := listen(t, env.Host, env.TLSALPN01Port)
	go srv.ServeTLS(l, "", "")
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String(), r
}

// httpsGet connects like a browser (h2, http/1.1; no acme-tls/1), verifying
// against roots when non-nil, and returns the body and the served leaf.
func httpsGet(t *testing.T, addr string, roots *x509.CertPool) (string, *x509.Certificate) {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{ServerName: testDomain, RootCAs: roots, InsecureSkipVerify: roots == nil},
		ForceAttemptHTTP2: true,
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body), resp.TLS.PeerCertificates[0]
}

// TLS-ALPN-01 answered by ChallengeCertificate on the same listener that
// serves normal HTTPS: before, during and after issuance it keeps serving h2.
func TestObtainTLSALPN01SameListenerServesHTTPS(t *testing.T) {
	t.Parallel()
	env := pebbletest.Start(t, upScript)
	m, _ := newPebbleManager(t, env)
	addr, _ := tlsServer(t, env, m)

	body, leaf := httpsGet(t, addr, nil)
	if body != "hello over HTTP/2.0" || leaf.Issuer.CommonName != testDomain {
		t.Fatalf("before issuance: %q from %q", body, leaf.Issuer)
	}

	t0 := time.Now()
	if err := m.Obtain(t.Context(), TLSALPN01); err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE obtain tls-alpn-01: %s", time.Since(t0).Round(time.Millisecond))
	disk := verifyOnDisk(t, env, m)
	noPendingChallenges(t, m)

	// A verifying client now gets the issued certificate from the same listener.
	body, leaf = httpsGet(t, addr, env.IssuerPool(t))
	if body != "hello over HTTP/2.0" {
		t.Fatalf("after issuance: %q", body)
	}
	if leaf.SerialNumber.Cmp(disk.SerialNumber) != 0 {
		t.Fatalf("served serial %x, on disk %x", leaf.SerialNumber, disk.SerialNumber)
	}
}

// Run with certificates that live 30 s: it obtains at start, renews when the
// renewal point (a third of the lifetime, or Pebble's ARI window) comes, and a
// server that reloads the files then hands out the NEW serial.
func TestRunRenewsAndServerSwaps(t *testing.T) {
	t.Parallel()
	env := pebbletest.Start(t, upScript, "PEBBLE_CERT_VALIDITY_SECONDS=30")
	m, _ := newPebbleManager(t, env)
	addr, _ := tlsServer(t, env, m)
	roots := env.IssuerPool(t)

	// onRenew blocks until the test has looked, so a further renewal (Pebble's
	// ARI window for a 30 s certificate is its whole lifetime) can't race the checks.
	renewed, resume := make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		// before=24h is longer than the 30 s validity: Run caps it at a third.
		m.Run(ctx, TLSALPN01, 12*time.Hour, 24*time.Hour, func() {
			select {
			case renewed <- struct{}{}:
				select {
				case <-resume:
				case <-ctx.Done():
				}
			case <-ctx.Done():
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	wait := func(what string) {
		t.Helper()
		select {
		case <-renewed:
		case <-time.After(90 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
		}
	}

	t0 := time.Now()
	wait("first certificate")
	first := verifyOnDisk(t, env, m)
	fi1, _ := os.Stat(m.CertFile())
	if _, leaf := httpsGet(t, addr, roots); leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatalf("served %x, want first serial %x", leaf.SerialNumber, first.SerialNumber)
	}
	t.Logf("first certificate after %s, valid %s", time.Since(t0).Round(time.Millisecond), first.NotAfter.Sub(first.NotBefore)+time.Second)
	resume <- struct{}{}

	t1 := time.Now()
	wait("renewal")
	second := verifyOnDisk(t, env, m)
	fi2, _ := os.Stat(m.CertFile())
	t.Logf("FIGURE renewal: %s after the first certificate (%s total)", time.Since(t1).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 || os.SameFile(fi1, fi2) {
		t.Fatal("renewal did not replace the certificate file")
	}
	if !time.Now().Before(first.NotAfter) {
		t.Error("renewed only after the old certificate expired")
	}
	_, leaf := httpsGet(t, addr, roots)
	cur, _ := m.leaf()
	if leaf.SerialNumber.Cmp(cur.SerialNumber) != 0 || leaf.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatalf("server serves %x; first %x, on disk %x", leaf.SerialNumber, first.SerialNumber, cur.SerialNumber)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop after cancel")
	}
}

// ARI: when the CA's renewal window is in the past, Run renews a 90-day
// certificate right away although `before` is far from reached.
func TestRunHonoursARI(t *testing.T) {
	t.Parallel()
	env := pebbletest.Start(t, upScript)
	m, buf := newPebbleManager(t, env)
	srv := &http.Server{Handler: m.HTTPHandler(nil)}
	go srv.Serve(listen(t, env.Host, env.HTTP01Port))
	t.Cleanup(func() { srv.Close() })

	if err := m.Obtain(t.Context(), HTTP01); err != nil {
		t.Fatal(err)
	}
	first := verifyOnDisk(t, env, m)
	chain, _ := os.ReadFile(m.CertFile())
	env.SetRenewalWindow(t, chain, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))

	renewed := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx, HTTP01, 12*time.Hour, 24*time.Hour, func() { renewed <- struct{}{} })
	}()
	defer func() { cancel(); <-done }()
	select {
	case <-renewed:
	case <-time.After(90 * time.Second):
		t.Fatal("ARI renew-now did not trigger a renewal")
	}
	second := verifyOnDisk(t, env, m)
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("same certificate after ARI renewal")
	}
	if buf.Count("(ARI) says renew now") == 0 {
		t.Error("renewal was not attributed to ARI")
	}
}

// With nothing answering the challenge, Obtain fails with the domain and the
// CA's reason, leaves nothing pending or on disk; and Run, cancelled in the
// middle of an order, returns promptly.
func TestObtainFailsCleanlyAndRunCancels(t *testing.T) {
	t.Parallel()
	env := pebbletest.Start(t, upScript)
	m, buf := newPebbleManager(t, env)

	err := m.Obtain(t.Context(), HTTP01)
	if err == nil || !strings.Contains(err.Error(), "obtaining certificate for servagent.test") {
		t.Fatalf("Obtain with no challenge listener: %v", err)
	}
	t.Logf("error as reported: %v", err)
	noPendingChallenges(t, m)
	if _, err := os.Stat(m.CertFile()); !os.IsNotExist(err) {
		t.Fatalf("a certificate was written: %v", err)
	}

	m.opts.RetryMin, m.opts.RetryMax = 10*time.Millisecond, 10*time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx, TLSALPN01, time.Hour, time.Hour, nil)
	}()
	// Cancel while an order is in flight (lego is waiting on the authorization).
	// (Watch the pending challenge, not lego's log: lego has one process-wide
	// logger, which the last New() in any parallel test points elsewhere.)
	pending := func() int {
		m.chMu.RLock()
		defer m.chMu.RUnlock()
		return len(m.alpnCerts)
	}
	for deadline := time.Now().Add(30 * time.Second); pending() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("Run never started an order")
		}
		time.Sleep(5 * time.Millisecond)
	}
	failedBefore := buf.Count("certificate renewal failed")
	t0 := time.Now()
	cancel()
	select {
	case <-done:
		t.Logf("Run returned %s after cancel (%d failed attempts had completed before)", time.Since(t0).Round(time.Millisecond), failedBefore)
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	noPendingChallenges(t, m)
}
