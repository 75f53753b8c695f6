package acme

import (
	"context"
	"crypto"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewValidatesOptions(t *testing.T) {
	dir := t.TempDir()
	bad := []struct {
		name string
		opts Options
		want string
	}{
		{"no domain", Options{StateDir: dir}, "domain is required"},
		{"wildcard", Options{Domain: "*.example.com", StateDir: dir}, "wildcard"},
		{"ip", Options{Domain: "192.0.2.1", StateDir: dir}, "IP address"},
		{"single label", Options{Domain: "localhost", StateDir: dir}, "two labels"},
		{"path", Options{Domain: "example.com/../x", StateDir: dir}, "invalid domain"},
		{"port", Options{Domain: "example.com:443", StateDir: dir}, "invalid domain"},
		{"dash", Options{Domain: "-a.example.com", StateDir: dir}, "'-'"},
		{"email", Options{Domain: "example.com", Email: "not an email", StateDir: dir}, "email"},
		{"http directory", Options{Domain: "example.com", DirectoryURL: "http://ca/dir", StateDir: dir}, "https://"},
		{"no state dir", Options{Domain: "example.com"}, "state directory"},
		{"missing CA file", Options{Domain: "example.com", StateDir: dir, CAFile: filepath.Join(dir, "nope.pem")}, "reading CA file"},
		{"negative retry", Options{Domain: "example.com", StateDir: dir, RetryMin: -1}, "negative"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%+v) = %v, want error containing %q", tc.opts, err, tc.want)
			}
		})
	}

	m, err := New(Options{Domain: " WWW.Example.COM. ", StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if m.Domain() != "www.example.com" || m.opts.DirectoryURL != LetsEncryptProduction ||
		m.opts.RetryMin != DefaultRetryMin || m.opts.RetryMax != DefaultRetryMax {
		t.Fatalf("normalised options: %+v", m.opts)
	}
	if want := filepath.Join(dir, "certs", "www.example.com", "fullchain.pem"); m.CertFile() != want {
		t.Fatalf("CertFile = %s, want %s", m.CertFile(), want)
	}
	if want := filepath.Join(dir, "certs", "www.example.com", "privkey.pem"); m.KeyFile() != want {
		t.Fatalf("KeyFile = %s, want %s", m.KeyFile(), want)
	}
}

// A bad LEGO_CA_CERTIFICATES must be an error, not lego's panic.
func TestLegoCAEnvIsAnErrorNotAPanic(t *testing.T) {
	t.Setenv("LEGO_CA_CERTIFICATES", filepath.Join(t.TempDir(), "missing.pem"))
	_, err := New(Options{Domain: "example.com", StateDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "reading CA file") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseChallenge(t *testing.T) {
	for in, want := range map[string]Challenge{"http-01": HTTP01, "HTTP01": HTTP01, "tls-alpn-01": TLSALPN01, "tls_alpn_01": TLSALPN01} {
		if got, err := ParseChallenge(in); err != nil || got != want {
			t.Errorf("ParseChallenge(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseChallenge("dns-01"); err == nil {
		t.Error("dns-01 accepted")
	}
	if HTTP01.String() != "http-01" || TLSALPN01.String() != "tls-alpn-01" {
		t.Error("String()")
	}
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// New creates the account key once (0600, dirs 0700), tightens loose
// directories, and loads the same key on the next start.
func TestAccountKeyFileModes(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{Domain: "example.com", StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(dir, "acme"), filepath.Join(dir, "certs", "example.com")} {
		if got := mode(t, d); got != 0o700 {
			t.Errorf("%s mode %o, want 700", d, got)
		}
	}
	if got := mode(t, m.accountKeyFile()); got != 0o600 {
		t.Errorf("account key mode %o", got)
	}
	key1, _ := os.ReadFile(m.accountKeyFile())
	m2, err := New(Options{Domain: "example.com", StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	key2, _ := os.ReadFile(m2.accountKeyFile())
	if string(key1) != string(key2) || !publicEqual(m.accountKey.Public(), m2.accountKey.Public()) {
		t.Fatal("account key was not reused")
	}
	if err := os.WriteFile(m.accountKeyFile(), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Domain: "example.com", StateDir: dir}); err == nil || !strings.Contains(err.Error(), "account key") {
		t.Fatalf("corrupt key: %v", err)
	}
}

func publicEqual(a, b any) bool {
	ea, ok := a.(interface{ Equal(x crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// writeSecret replaces atomically (no temp files left, readers see old or
// new) and forces 0600 even over an existing 0644 file.
func TestWriteSecretAtomicAndPrivate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "privkey.pem")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(p)
	if err := writeSecret(p, []byte("new")); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(p)
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("content %q", b)
	}
	if got := mode(t, p); got != 0o600 {
		t.Fatalf("mode %o, want 600", got)
	}
	if os.SameFile(before, after) {
		t.Fatal("file was rewritten in place, not renamed over")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("leftover files: %v", entries)
	}
}

func TestHTTPHandler(t *testing.T) {
	m, err := New(Options{Domain: "example.com", StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fallback "+r.URL.Path) })
	p := provider{m: m, ch: HTTP01}
	if err := p.Present(t.Context(), "example.com", "tok123", "tok123.thumb"); err != nil {
		t.Fatal(err)
	}
	get := func(h http.Handler, method, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "http://example.com"+path, nil))
		return rec.Code, rec.Body.String()
	}
	h := m.HTTPHandler(fallback)
	cases := []struct{ method, path, want string }{
		{"GET", "/.well-known/acme-challenge/tok123", "tok123.thumb"},
		{"GET", "/.well-known/acme-challenge/other", "fallback /.well-known/acme-challenge/other"},
		{"GET", "/.well-known/acme-challenge/", "fallback /.well-known/acme-challenge/"},
		{"POST", "/.well-known/acme-challenge/tok123", "fallback /.well-known/acme-challenge/tok123"},
		{"GET", "/", "fallback /"},
		{"GET", "/mcp", "fallback /mcp"},
	}
	for _, c := range cases {
		if _, body := get(h, c.method, c.path); body != c.want {
			t.Errorf("%s %s = %q, want %q", c.method, c.path, body, c.want)
		}
	}
	if code, _ := get(m.HTTPHandler(nil), "GET", "/anything"); code != http.StatusNotFound {
		t.Errorf("nil fallback: %d", code)
	}
	if err := p.CleanUp(t.Context(), "example.com", "tok123", ""); err != nil {
		t.Fatal(err)
	}
	if _, body := get(h, "GET", "/.well-known/acme-challenge/tok123"); !strings.HasPrefix(body, "fallback") {
		t.Errorf("token still served after CleanUp: %q", body)
	}
}

func TestChallengeCertificateAndHooks(t *testing.T) {
	m, err := New(Options{Domain: "example.com", StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	base, _, _ := selfSigned(t, "example.com", time.Now().Add(time.Hour))
	hook := TLSConfigHooks(m, func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return base, nil })
	acmeHello := &tls.ClientHelloInfo{ServerName: "Example.com", SupportedProtos: []string{ALPNProto}}
	normal := &tls.ClientHelloInfo{ServerName: "example.com", SupportedProtos: []string{"h2", "http/1.1"}}

	if c, err := m.ChallengeCertificate(acmeHello); c != nil || err != nil {
		t.Fatalf("no pending challenge: %v %v", c, err)
	}
	p := provider{m: m, ch: TLSALPN01}
	if err := p.Present(t.Context(), "example.com", "tok", "tok.thumb"); err != nil {
		t.Fatal(err)
	}
	c, err := m.ChallengeCertificate(acmeHello)
	if c == nil || err != nil {
		t.Fatalf("pending challenge not served: %v", err)
	}
	if got, _ := hook(acmeHello); got != c {
		t.Error("hook did not return the challenge cert")
	}
	if got, _ := hook(normal); got != base {
		t.Error("hook did not delegate a normal hello to base")
	}
	if got, _ := m.ChallengeCertificate(&tls.ClientHelloInfo{ServerName: "other.com", SupportedProtos: []string{ALPNProto}}); got != nil {
		t.Error("challenge cert served for another name")
	}
	_ = p.CleanUp(t.Context(), "example.com", "tok", "")
	if got, _ := hook(acmeHello); got != base {
		t.Error("after CleanUp the hook must delegate")
	}
	if _, err := TLSConfigHooks(m, nil)(normal); err == nil {
		t.Error("nil base must be an error, not a nil certificate")
	}
}

func TestConfigureServer(t *testing.T) {
	srv := &http.Server{}
	ConfigureServer(srv)
	ConfigureServer(srv) // idempotent
	np := srv.TLSConfig.NextProtos
	if strings.Join(np, ",") != "h2,http/1.1,"+ALPNProto {
		t.Fatalf("NextProtos = %v", np)
	}
	if srv.TLSNextProto[ALPNProto] == nil || !srv.Protocols.HTTP2() || !srv.Protocols.HTTP1() {
		t.Fatal("TLSNextProto/Protocols not set")
	}
}

func TestNeedsRenewalAndNotAfter(t *testing.T) {
	m, err := New(Options{Domain: "example.com", StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if need, err := m.NeedsRenewal(now, time.Hour); !need || err != nil {
		t.Fatalf("no cert: %v %v", need, err)
	}
	if _, err := m.NotAfter(); !os.IsNotExist(err) {
		t.Fatalf("NotAfter without cert: %v", err)
	}
	notAfter := now.Add(48 * time.Hour).Truncate(time.Second)
	_, certPEM, keyPEM := selfSigned(t, "example.com", notAfter)
	if err := writeSecret(m.KeyFile(), keyPEM); err != nil {
		t.Fatal(err)
	}
	if err := writeSecret(m.CertFile(), certPEM); err != nil {
		t.Fatal(err)
	}
	if got, err := m.NotAfter(); err != nil || !got.Equal(notAfter) {
		t.Fatalf("NotAfter = %v, %v; want %v", got, err, notAfter)
	}
	for before, want := range map[time.Duration]bool{time.Hour: false, 47 * time.Hour: false, 49 * time.Hour: true} {
		if need, err := m.NeedsRenewal(now, before); need != want || err != nil {
			t.Errorf("NeedsRenewal(before=%s) = %v, %v", before, need, err)
		}
	}
	// A certificate for another name (e.g. domain changed in config) needs replacing.
	_, other, _ := selfSigned(t, "other.example.com", notAfter)
	_ = writeSecret(m.CertFile(), other)
	if need, _ := m.NeedsRenewal(now, time.Hour); !need {
		t.Error("cert for another name should need renewal")
	}
	_ = writeSecret(m.CertFile(), []byte("junk"))
	if need, err := m.NeedsRenewal(now, time.Hour); !need || err == nil {
		t.Errorf("junk cert: %v %v", need, err)
	}
}

func TestBackoffAndEffectiveBefore(t *testing.T) {
	m := &Manager{opts: Options{RetryMin: time.Minute, RetryMax: 6 * time.Hour}}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}
	for i, w := range want {
		if got := m.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := m.backoff(100); got != 6*time.Hour {
		t.Errorf("backoff(100) = %s", got)
	}
	if got := effectiveBefore(90*24*time.Hour, 30*24*time.Hour); got != 30*24*time.Hour {
		t.Errorf("90d/30d: %s", got)
	}
	if got := effectiveBefore(6*24*time.Hour, 30*24*time.Hour); got != 2*24*time.Hour {
		t.Errorf("6d/30d: %s", got)
	}
}

// Run against a CA that can't be reached: it logs each failure with the
// reason, backs off, never panics, and returns promptly on cancel.
func TestRunBacksOffAndStops(t *testing.T) {
	log, buf := testLogger(t)
	m, err := New(Options{
		Domain: "servagent.test", StateDir: t.TempDir(), Logger: log,
		DirectoryURL: "https://127.0.0.1:1/dir", RetryMin: 20 * time.Millisecond, RetryMax: 80 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	renewed := false
	go func() {
		defer close(done)
		m.Run(ctx, HTTP01, time.Hour, time.Hour, func() { renewed = true })
	}()
	deadline := time.Now().Add(20 * time.Second)
	for buf.Count("certificate renewal failed") < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	logs := buf.String()
	if n := strings.Count(logs, "certificate renewal failed"); n < 4 {
		t.Fatalf("want >= 4 logged failures, got %d", n)
	}
	for _, want := range []string{"obtaining certificate for servagent.test", "connection refused", "retry_in=20ms", "retry_in=40ms", "retry_in=80ms"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	if renewed {
		t.Error("onRenew called without a certificate")
	}
}
