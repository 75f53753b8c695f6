package acme

// Answering HTTP-01 and TLS-ALPN-01 challenges from servagent's own listeners.

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/go-acme/lego/v5/challenge/http01"
	"github.com/go-acme/lego/v5/challenge/tlsalpn01"
)

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
