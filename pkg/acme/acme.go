// Package acme obtains and renews servagent's TLS certificate in-process with
// lego v5, answering HTTP-01 and TLS-ALPN-01 challenges from servagent's own
// running listeners (lego's ProviderServers open their own listener and would
// collide with ours on :80/:443).
//
// Wiring, for the server:
//
//	m, _ := acme.New(acme.Options{Domain: "example.com", StateDir: "/var/lib/servagent"})
//	httpSrv := &http.Server{Addr: ":80", Handler: m.HTTPHandler(redirectToHTTPS)}
//	tlsSrv := &http.Server{Addr: ":443", Handler: h, TLSConfig: &tls.Config{
//		GetCertificate: acme.TLSConfigHooks(m, reloadingGetCertificate),
//	}}
//	acme.ConfigureServer(tlsSrv) // NextProtos += "acme-tls/1", TLSNextProto["acme-tls/1"] closes, keeps h2
//	go m.Run(ctx, acme.TLSALPN01, 12*time.Hour, 30*24*time.Hour, nil)
//
// For TLS-ALPN-01 the tls.Config must list "acme-tls/1" in NextProtos and the
// http.Server needs TLSNextProto["acme-tls/1"] set to a function that just
// closes the connection (the CA only performs the handshake). Setting
// TLSNextProto disables automatic HTTP/2 unless http.Server.Protocols is set;
// ConfigureServer does all three.
//
// Files: <StateDir>/acme/account.key and account.json (the ACME account),
// <StateDir>/certs/<domain>/fullchain.pem and privkey.pem. Files are 0600,
// directories 0700, and every write is atomic (temp file, fsync, rename). The
// key is written before the chain, so a reader may briefly see a new key with
// the old chain: it should keep its current pair when they don't match and
// retry on the next change.
package acme

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	legoacme "github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/http01"
	"github.com/go-acme/lego/v5/challenge/tlsalpn01"
	"github.com/go-acme/lego/v5/lego"
	legolog "github.com/go-acme/lego/v5/log"
	"github.com/go-acme/lego/v5/registration"

	"github.com/servagent/servagent/pkg/fsutil"
)

// ALPNProto is the ALPN protocol ID of TLS-ALPN-01 (RFC 8737).
const ALPNProto = tlsalpn01.ACMETLS1Protocol

// LetsEncryptProduction is the default ACME directory.
const LetsEncryptProduction = lego.DirectoryURLLetsEncrypt

// Default retry backoff of Run after a failed renewal.
const (
	DefaultRetryMin = time.Minute
	DefaultRetryMax = 6 * time.Hour
)

// Challenge selects how the CA validates control of the domain.
type Challenge int

const (
	// HTTP01 is answered by HTTPHandler on port 80.
	HTTP01 Challenge = iota + 1
	// TLSALPN01 is answered by ChallengeCertificate on port 443.
	TLSALPN01
)

func (c Challenge) String() string {
	switch c {
	case HTTP01:
		return "http-01"
	case TLSALPN01:
		return "tls-alpn-01"
	}
	return fmt.Sprintf("Challenge(%d)", int(c))
}

// ParseChallenge accepts "http-01" or "tls-alpn-01" (also without the dash
// before 01, any case), for flags and config values.
func ParseChallenge(s string) (Challenge, error) {
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "_", "-") {
	case "http-01", "http01", "http":
		return HTTP01, nil
	case "tls-alpn-01", "tlsalpn01", "tls-alpn", "tls":
		return TLSALPN01, nil
	}
	return 0, fmt.Errorf("unknown ACME challenge %q (want http-01 or tls-alpn-01)", s)
}

// Options configures a Manager.
type Options struct {
	Domain       string       // e.g. "example.com"
	Email        string       // optional contact
	DirectoryURL string       // ACME directory; default Let's Encrypt production
	CAFile       string       // optional extra CA (PEM) trusted for the ACME server's HTTPS (Pebble, private CA)
	StateDir     string       // account under <StateDir>/acme, certs under <StateDir>/certs/<domain>
	Logger       *slog.Logger // nil: discard

	// RetryMin and RetryMax bound Run's exponential backoff after a failure
	// (zero: DefaultRetryMin / DefaultRetryMax). Tests shorten them.
	RetryMin, RetryMax time.Duration
}

// Manager obtains and renews the certificate for one domain. It is safe for
// concurrent use; Obtain calls are serialised.
type Manager struct {
	opts       Options
	log        *slog.Logger
	httpClient *http.Client
	accountKey crypto.Signer

	obtainMu sync.Mutex                // one order at a time
	account  *legoacme.ExtendedAccount // guarded by obtainMu

	chMu       sync.RWMutex
	httpTokens map[string]string           // token -> key authorization
	alpnCerts  map[string]*tls.Certificate // domain -> challenge certificate
}

// accountFile is the JSON kept next to the account key. The directory URL is
// stored because an account only exists on the CA that created it.
type accountFile struct {
	DirectoryURL string                    `json:"directory_url"`
	Email        string                    `json:"email,omitempty"`
	Registration *legoacme.ExtendedAccount `json:"registration"`
}

// New validates opts and loads or creates the account key. Registration with
// the CA happens lazily on the first Obtain, so New needs no network.
func New(opts Options) (*Manager, error) {
	if err := normalize(&opts); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "acme", "domain", opts.Domain)
	client, err := newHTTPClient(opts.CAFile)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		opts:       opts,
		log:        log,
		httpClient: client,
		httpTokens: map[string]string{},
		alpnCerts:  map[string]*tls.Certificate{},
	}
	for _, d := range []string{m.accountDir(), m.certDir()} {
		if err := ensureDir(d); err != nil {
			return nil, err
		}
	}
	if m.accountKey, err = m.loadOrCreateAccountKey(); err != nil {
		return nil, err
	}
	// lego logs through a process-wide slog logger that defaults to stdout;
	// route it to ours (it logs domains and URLs, never keys).
	if opts.Logger != nil {
		legolog.SetDefault(opts.Logger.With("component", "lego"))
	} else {
		legolog.SetDefault(slog.New(slog.DiscardHandler))
	}
	return m, nil
}

func normalize(o *Options) error {
	o.Domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(o.Domain)), ".")
	if err := validateDomain(o.Domain); err != nil {
		return err
	}
	o.Email = strings.TrimSpace(o.Email)
	if o.Email != "" {
		a, err := mail.ParseAddress(o.Email)
		if err != nil || a.Address != o.Email {
			return fmt.Errorf("acme: invalid contact email %q", o.Email)
		}
	}
	if o.DirectoryURL == "" {
		o.DirectoryURL = LetsEncryptProduction
	}
	u, err := url.Parse(o.DirectoryURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("acme: directory URL %q must be an https:// URL", o.DirectoryURL)
	}
	if o.StateDir == "" {
		return errors.New("acme: state directory is required")
	}
	if o.StateDir, err = filepath.Abs(o.StateDir); err != nil {
		return fmt.Errorf("acme: state directory: %w", err)
	}
	if o.RetryMin < 0 || o.RetryMax < 0 {
		return errors.New("acme: retry backoff must not be negative")
	}
	if o.RetryMin == 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax == 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = o.RetryMin
	}
	return nil
}

// validateDomain accepts one DNS name that HTTP-01/TLS-ALPN-01 can validate:
// no wildcard, no IP literal, no port or path. It also keeps the name safe as
// a directory name under certs/.
func validateDomain(d string) error {
	if d == "" {
		return errors.New("acme: domain is required")
	}
	bad := func(why string) error { return fmt.Errorf("acme: invalid domain %q: %s", d, why) }
	if strings.HasPrefix(d, "*.") {
		return bad("wildcards need DNS-01, which servagent does not do")
	}
	if net.ParseIP(d) != nil {
		return bad("an IP address, not a DNS name")
	}
	if len(d) > 253 {
		return bad("longer than 253 characters")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return bad("needs at least two labels (e.g. example.com)")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return bad("empty or over-long label")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return bad("label starts or ends with '-'")
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return bad(fmt.Sprintf("character %q (use the punycode xn-- form for IDNs)", r))
			}
		}
	}
	return nil
}

// newHTTPClient builds the ACME API client ourselves instead of lego.NewConfig,
// because NewConfig panics when LEGO_CA_CERTIFICATES names an unreadable file.
// CAFile (or else LEGO_CA_CERTIFICATES) is added to the system roots.
func newHTTPClient(caFile string) (*http.Client, error) {
	var files []string
	if caFile != "" {
		files = []string{caFile}
	} else if env := os.Getenv("LEGO_CA_CERTIFICATES"); env != "" {
		files = filepath.SplitList(env)
	}
	var pool *x509.CertPool
	if len(files) > 0 {
		var err error
		if pool, err = x509.SystemCertPool(); err != nil {
			pool = x509.NewCertPool()
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("acme: reading CA file: %w", err)
			}
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("acme: CA file %s holds no PEM certificate", f)
			}
		}
	}
	return &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   30 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			ForceAttemptHTTP2:     true,
			TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		},
	}, nil
}

func (m *Manager) accountDir() string { return filepath.Join(m.opts.StateDir, "acme") }
func (m *Manager) certDir() string {
	return filepath.Join(m.opts.StateDir, "certs", m.opts.Domain)
}

// Domain returns the (normalised) domain the Manager serves.
func (m *Manager) Domain() string { return m.opts.Domain }

// CertFile is <StateDir>/certs/<domain>/fullchain.pem (leaf + intermediates).
func (m *Manager) CertFile() string { return filepath.Join(m.certDir(), "fullchain.pem") }

// KeyFile is <StateDir>/certs/<domain>/privkey.pem.
func (m *Manager) KeyFile() string { return filepath.Join(m.certDir(), "privkey.pem") }

func (m *Manager) accountKeyFile() string  { return filepath.Join(m.accountDir(), "account.key") }
func (m *Manager) accountJSONFile() string { return filepath.Join(m.accountDir(), "account.json") }

// ensureDir creates dir with 0700 and tightens it if it already existed.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("acme: creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("acme: securing %s: %w", dir, err)
	}
	return nil
}

// writeSecret writes path atomically with mode 0600. fsutil keeps an existing
// file's mode, so a looser old file is tightened first (it held a key anyway).
func writeSecret(path string, data []byte) error {
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != 0o600 {
		if err := os.Chmod(path, 0o600); err != nil {
			return err
		}
	}
	return fsutil.WriteFile(path, data, 0o600)
}

func (m *Manager) loadOrCreateAccountKey() (crypto.Signer, error) {
	path := m.accountKeyFile()
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := certcrypto.ParsePEMPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("acme: parsing account key %s: %w", path, err)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("acme: reading account key: %w", err)
	}
	key, err := certcrypto.GeneratePrivateKey(certcrypto.EC256)
	if err != nil {
		return nil, fmt.Errorf("acme: generating account key: %w", err)
	}
	if err := writeSecret(path, certcrypto.PEMEncode(key)); err != nil {
		return nil, fmt.Errorf("acme: writing account key: %w", err)
	}
	m.log.Info("created ACME account key", "path", path)
	return key, nil
}

// user adapts the Manager's account to lego's registration.User.
type user struct {
	email string
	reg   *legoacme.ExtendedAccount
	key   crypto.Signer
}

func (u *user) GetEmail() string                           { return u.email }
func (u *user) GetRegistration() *legoacme.ExtendedAccount { return u.reg }
func (u *user) GetPrivateKey() crypto.Signer               { return u.key }

// newClient returns a lego client for the configured CA. With register set it
// also makes sure the account exists there (loading account.json, or
// registering and saving it). Caller holds obtainMu when register is set.
func (m *Manager) newClient(ctx context.Context, register bool) (*lego.Client, error) {
	u := &user{email: m.opts.Email, key: m.accountKey}
	if register {
		if m.account == nil {
			m.account = m.loadAccount()
		}
		u.reg = m.account
	}
	cfg := &lego.Config{
		CADirURL:   m.opts.DirectoryURL,
		User:       u,
		UserAgent:  "servagent",
		HTTPClient: m.httpClient,
		Certificate: lego.CertificateConfig{
			Timeout:             30 * time.Second,
			OverallRequestLimit: certificate.DefaultOverallRequestLimit,
		},
	}
	client, err := lego.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("contacting ACME server %s: %w", m.opts.DirectoryURL, err)
	}
	if !register || u.reg != nil {
		return client, nil
	}
	reg, err := client.Registration.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true})
	if err != nil {
		return nil, fmt.Errorf("registering ACME account at %s: %w", m.opts.DirectoryURL, err)
	}
	m.account = reg
	b, err := json.MarshalIndent(accountFile{DirectoryURL: m.opts.DirectoryURL, Email: m.opts.Email, Registration: reg}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeSecret(m.accountJSONFile(), append(b, '\n')); err != nil {
		return nil, fmt.Errorf("saving ACME account: %w", err)
	}
	m.log.Info("registered ACME account", "directory", m.opts.DirectoryURL, "account", reg.Location)
	// The account now exists; build a client that signs with its URL (kid).
	return m.newClient(ctx, true)
}

// loadAccount returns the saved registration if it belongs to the configured
// CA, else nil (the account is then registered again with the same key).
func (m *Manager) loadAccount() *legoacme.ExtendedAccount {
	b, err := os.ReadFile(m.accountJSONFile())
	if err != nil {
		return nil
	}
	var a accountFile
	if err := json.Unmarshal(b, &a); err != nil || a.Registration == nil || a.Registration.Location == "" {
		m.log.Warn("ignoring unreadable ACME account file", "path", m.accountJSONFile())
		return nil
	}
	if a.DirectoryURL != m.opts.DirectoryURL {
		return nil
	}
	return a.Registration
}

// provider answers challenges from the Manager's maps, which HTTPHandler and
// ChallengeCertificate read.
type provider struct {
	m  *Manager
	ch Challenge
}

func (p provider) Present(_ context.Context, domain, token, keyAuth string) error {
	p.m.chMu.Lock()
	defer p.m.chMu.Unlock()
	switch p.ch {
	case HTTP01:
		p.m.httpTokens[token] = keyAuth
	case TLSALPN01:
		cert, err := tlsalpn01.ChallengeCert(domain, keyAuth)
		if err != nil {
			return err
		}
		p.m.alpnCerts[strings.ToLower(domain)] = cert
	}
	return nil
}

func (p provider) CleanUp(_ context.Context, domain, token, _ string) error {
	p.m.chMu.Lock()
	defer p.m.chMu.Unlock()
	switch p.ch {
	case HTTP01:
		delete(p.m.httpTokens, token)
	case TLSALPN01:
		delete(p.m.alpnCerts, strings.ToLower(domain))
	}
	return nil
}

// HTTPHandler answers GET/HEAD /.well-known/acme-challenge/<token> with the key
// authorization while that HTTP-01 challenge is pending; every other request
// goes to fallback (nil: 404).
func (m *Manager) HTTPHandler(fallback http.Handler) http.Handler {
	if fallback == nil {
		fallback = http.NotFoundHandler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if token, ok := strings.CutPrefix(r.URL.Path, http01.PathPrefix); ok && token != "" {
				m.chMu.RLock()
				keyAuth, found := m.httpTokens[token]
				m.chMu.RUnlock()
				if found {
					w.Header().Set("Content-Type", "text/plain")
					w.Header().Set("Cache-Control", "no-store")
					_, _ = w.Write([]byte(keyAuth))
					return
				}
			}
		}
		fallback.ServeHTTP(w, r)
	})
}

// ChallengeCertificate returns the TLS-ALPN-01 challenge certificate when the
// client offers only-for-ACME ALPN "acme-tls/1" and a challenge for
// hello.ServerName is pending; (nil, nil) otherwise.
func (m *Manager) ChallengeCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello == nil || !slices.Contains(hello.SupportedProtos, ALPNProto) {
		return nil, nil
	}
	m.chMu.RLock()
	defer m.chMu.RUnlock()
	return m.alpnCerts[strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))], nil
}

// ChallengeCertifier is what answers TLS-ALPN-01 handshakes (a *Manager).
type ChallengeCertifier interface {
	ChallengeCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error)
}

// TLSConfigHooks returns a tls.Config.GetCertificate that serves the pending
// TLS-ALPN-01 challenge certificate first and otherwise delegates to base.
// The tls.Config must also list ALPNProto in NextProtos (see ConfigureServer).
func TLSConfigHooks(m ChallengeCertifier, base func(*tls.ClientHelloInfo) (*tls.Certificate, error)) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if m != nil {
			if c, err := m.ChallengeCertificate(hello); c != nil || err != nil {
				return c, err
			}
		}
		if base == nil {
			return nil, errors.New("acme: no certificate configured")
		}
		return base(hello)
	}
}

// ConfigureServer prepares srv (which must have a TLSConfig) for TLS-ALPN-01:
// it appends ALPNProto to TLSConfig.NextProtos, maps it in TLSNextProto to a
// function that closes the connection (the CA only needs the handshake), and,
// because a non-nil TLSNextProto would otherwise switch HTTP/2 off, enables
// HTTP/1 and HTTP/2 explicitly when srv.Protocols is nil.
func ConfigureServer(srv *http.Server) {
	if srv.TLSConfig == nil {
		srv.TLSConfig = &tls.Config{}
	}
	if !slices.Contains(srv.TLSConfig.NextProtos, ALPNProto) {
		// Keep h2/http1.1 first: Go picks the server's first match, and only
		// the ACME validator offers acme-tls/1 at all.
		if len(srv.TLSConfig.NextProtos) == 0 {
			srv.TLSConfig.NextProtos = []string{"h2", "http/1.1"}
		}
		srv.TLSConfig.NextProtos = append(srv.TLSConfig.NextProtos, ALPNProto)
	}
	if srv.Protocols == nil {
		p := new(http.Protocols)
		p.SetHTTP1(true)
		p.SetHTTP2(true)
		srv.Protocols = p
	}
	if srv.TLSNextProto == nil {
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	srv.TLSNextProto[ALPNProto] = func(_ *http.Server, c *tls.Conn, _ http.Handler) { _ = c.Close() }
}

// Obtain gets a new certificate for the domain through challenge ch, answered
// by HTTPHandler (HTTP01) or ChallengeCertificate (TLSALPN01) from listeners
// the caller runs. It registers the account if needed and writes privkey.pem
// then fullchain.pem atomically.
func (m *Manager) Obtain(ctx context.Context, ch Challenge) error {
	_, err := m.obtain(ctx, ch)
	return err
}

func (m *Manager) obtain(ctx context.Context, ch Challenge) (*x509.Certificate, error) {
	wrap := func(err error) error {
		return fmt.Errorf("obtaining certificate for %s: %w", m.opts.Domain, err)
	}
	if ch != HTTP01 && ch != TLSALPN01 {
		return nil, wrap(fmt.Errorf("unsupported challenge %v", ch))
	}
	m.obtainMu.Lock()
	defer m.obtainMu.Unlock()
	start := time.Now()

	client, err := m.newClient(ctx, true)
	if err != nil {
		return nil, wrap(err)
	}
	p := provider{m: m, ch: ch}
	if ch == HTTP01 {
		err = client.Challenge.SetHTTP01Provider(p)
	} else {
		err = client.Challenge.SetTLSALPN01Provider(p)
	}
	if err != nil {
		return nil, wrap(err)
	}
	req := certificate.ObtainRequest{Domains: []string{m.opts.Domain}, KeyType: certcrypto.EC256, Bundle: true}
	// Tell an ARI-capable CA which certificate this replaces (RFC 9773), so a
	// renewal is exempt from rate limits; fall back below if the CA refuses it.
	if old, err := m.leaf(); err == nil {
		if id, err := api.MakeARICertID(old); err == nil {
			req.ReplacesCertID = id
		}
	}
	m.log.Info("requesting certificate", "challenge", ch.String(), "directory", m.opts.DirectoryURL)
	res, err := client.Certificate.Obtain(ctx, req)
	if err != nil && req.ReplacesCertID != "" && ctx.Err() == nil && replacesRejected(err) {
		m.log.Warn("CA refused the ARI replaces field; ordering without it", "error", err)
		req.ReplacesCertID = ""
		res, err = client.Certificate.Obtain(ctx, req)
	}
	if err != nil {
		return nil, wrap(err)
	}
	leaf, err := checkResource(res, m.opts.Domain)
	if err != nil {
		return nil, wrap(err)
	}
	if err := m.writeCert(res); err != nil {
		return nil, wrap(err)
	}
	m.log.Info("certificate obtained", "challenge", ch.String(), "serial", serialHex(leaf.SerialNumber),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "took", time.Since(start).Round(time.Millisecond))
	return leaf, nil
}

// replacesRejected reports whether the CA rejected the order itself (not a
// failed validation), which is how a CA answers a "replaces" it doesn't accept
// (different CA, already replaced, unknown certificate).
func replacesRejected(err error) bool {
	var pd *legoacme.ProblemDetails
	if !errors.As(err, &pd) {
		return false
	}
	for _, t := range []string{"malformed", "conflict", "alreadyReplaced", "unauthorized"} {
		if strings.HasSuffix(pd.Type, ":"+t) {
			return true
		}
	}
	return false
}

// checkResource parses the issued bundle and confirms it matches the key and
// the domain before anything is written.
func checkResource(res *certificate.Resource, domain string) (*x509.Certificate, error) {
	if _, err := tls.X509KeyPair(res.Certificate, res.PrivateKey); err != nil {
		return nil, fmt.Errorf("issued certificate does not match its key: %w", err)
	}
	certs, err := certcrypto.ParsePEMBundle(res.Certificate)
	if err != nil {
		return nil, fmt.Errorf("parsing issued certificate: %w", err)
	}
	if err := certs[0].VerifyHostname(domain); err != nil {
		return nil, fmt.Errorf("issued certificate: %w", err)
	}
	return certs[0], nil
}

func (m *Manager) writeCert(res *certificate.Resource) error {
	if err := ensureDir(m.certDir()); err != nil {
		return err
	}
	// Key first: a reader that sees the new chain then also finds its key.
	if err := writeSecret(m.KeyFile(), res.PrivateKey); err != nil {
		return fmt.Errorf("writing %s: %w", m.KeyFile(), err)
	}
	if err := writeSecret(m.CertFile(), res.Certificate); err != nil {
		return fmt.Errorf("writing %s: %w", m.CertFile(), err)
	}
	return nil
}

// leaf parses the first certificate of the chain on disk.
func (m *Manager) leaf() (*x509.Certificate, error) {
	b, err := os.ReadFile(m.CertFile())
	if err != nil {
		return nil, err
	}
	c, err := certcrypto.ParsePEMCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", m.CertFile(), err)
	}
	return c, nil
}

// NotAfter returns the expiry of the certificate on disk (an error wrapping
// fs.ErrNotExist if there is none yet).
func (m *Manager) NotAfter() (time.Time, error) {
	c, err := m.leaf()
	if err != nil {
		return time.Time{}, err
	}
	return c.NotAfter, nil
}

// NeedsRenewal reports whether there is no usable certificate on disk, it is
// not valid for the domain, or fewer than before remain at now. It only reads
// files; Run additionally honours the CA's ARI window.
func (m *Manager) NeedsRenewal(now time.Time, before time.Duration) (bool, error) {
	c, err := m.leaf()
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return true, err
	}
	if c.VerifyHostname(m.opts.Domain) != nil {
		return true, nil
	}
	return !now.Add(before).Before(c.NotAfter), nil
}

func serialHex(n *big.Int) string {
	if n == nil {
		return ""
	}
	return fmt.Sprintf("%x", n)
}
