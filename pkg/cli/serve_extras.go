package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/servagent/servagent/pkg/acme"
	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/oauth"
	"github.com/servagent/servagent/pkg/server"
)

// renewCheckEvery is how often serve checks its ACME certificate.
const renewCheckEvery = 12 * time.Hour

// startExtras starts the optional subsystems: the OAuth authorization server
// and, for an ACME-managed certificate, the in-process renewal loop (plus an
// HTTP-01 / redirect listener when SERVAGENT_ACME_HTTP_PORT is set).
func startExtras(ctx context.Context, cfg *config.Config, logger *slog.Logger, sopts *server.Options) (*extras, error) {
	ex := &extras{}
	if cfg.OAuthEnabled() {
		secret := cfg.OAuthApprovalPassword
		if secret == "" {
			secret = sopts.APIKey
		}
		o, err := oauth.New(ctx, oauth.Options{
			IssuerURL:            cfg.OAuthIssuerURL,
			ClientID:             cfg.OAuthClientID,
			ClientSecret:         cfg.OAuthClientSecret,
			DBPath:               cfg.OAuthDBPath,
			ExtraRedirectURIs:    cfg.OAuthRedirectURIs,
			Approval:             cfg.OAuthApproval,
			ApprovalSecret:       secret,
			DisableCIMD:          !cfg.OAuthCIMD,
			CIMDCAFile:           cfg.OAuthCIMDCAFile,
			RefreshReuseInterval: cfg.OAuthRefreshReuse,
			Logger:               logger.With("component", "oauth"),
		})
		if err != nil {
			return nil, fmt.Errorf("starting OAuth: %w", err)
		}
		ex.closers = append(ex.closers, func() { o.Close() })
		sopts.OAuth = o
	}
	if cfg.ACMEDomain == "" {
		return ex, nil
	}
	if err := startACME(ctx, cfg, logger, sopts, ex); err != nil {
		ex.close()
		return nil, err
	}
	return ex, nil
}

// startACME starts the certificate manager for SERVAGENT_ACME_DOMAIN: the
// HTTP-01 / redirect listener when a port is set, the first certificate when
// there is none yet and HTTP-01 can get it, and the renewal loop. What it
// starts is added to ex, which the caller closes on error.
func startACME(ctx context.Context, cfg *config.Config, logger *slog.Logger, sopts *server.Options, ex *extras) error {
	m, err := acme.New(acme.Options{
		Domain:       cfg.ACMEDomain,
		Email:        cfg.ACMEEmail,
		DirectoryURL: cfg.ACMEDirectory,
		CAFile:       cfg.ACMECAFile,
		StateDir:     cfg.StateDir,
		Logger:       logger.With("component", "acme"),
	})
	if err != nil {
		return fmt.Errorf("ACME for %s: %w", cfg.ACMEDomain, err)
	}
	certFile := cfg.TLSCertFile
	if certFile == "" {
		certFile = m.CertFile()
		sopts.CertFile, sopts.KeyFile = certFile, m.KeyFile()
	}
	sopts.ACME = m
	ch := acme.TLSALPN01
	if cfg.ACMEHTTPPort > 0 {
		ch = acme.HTTP01
		ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.ACMEHTTPPort)))
		if err != nil {
			return fmt.Errorf("listening for HTTP-01 on port %d (SERVAGENT_ACME_HTTP_PORT): %w", cfg.ACMEHTTPPort, err)
		}
		hs := &http.Server{Handler: m.HTTPHandler(httpsRedirect(cfg)), ReadHeaderTimeout: 10 * time.Second}
		served := make(chan struct{})
		go func() { defer close(served); hs.Serve(ln) }()
		ex.closers = append(ex.closers, func() { hs.Close(); <-served })
	}
	if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
		if ch != acme.HTTP01 {
			return fmt.Errorf("no certificate at %s yet: run `servagent tls setup %s` first, or set SERVAGENT_ACME_HTTP_PORT=80 so serve can obtain one", certFile, cfg.ACMEDomain)
		}
		logger.Info("obtaining the first certificate", "domain", cfg.ACMEDomain)
		if err := m.Obtain(ctx, ch); err != nil {
			return fmt.Errorf("obtaining a certificate for %s: %w", cfg.ACMEDomain, err)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	ex.closers = append(ex.closers, func() { cancel(); <-done })
	go func() {
		defer close(done)
		m.Run(rctx, ch, renewCheckEvery, cfg.ACMERenewBefore, func() {
			logger.Info("certificate renewed; new handshakes use it", "domain", cfg.ACMEDomain)
		})
	}()
	return nil
}

// httpsRedirect sends plain-HTTP visitors to the HTTPS endpoint.
func httpsRedirect(cfg *config.Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := cfg.ACMEDomain
		if cfg.Port != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(cfg.Port))
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}
