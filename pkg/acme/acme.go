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
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	legoacme "github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/challenge/tlsalpn01"
	"github.com/go-acme/lego/v5/lego"
	legolog "github.com/go-acme/lego/v5/log"
	"github.com/servagent/servagent/pkg/netname"
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
	d, err := netname.Domain(o.Domain)
	if err != nil {
		return fmt.Errorf("acme: %w", err)
	}
	o.Domain = d
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
