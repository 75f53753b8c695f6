package acme

// Obtaining, storing and checking the certificate.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	legoacme "github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
)

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
		m.log.Warn("CA refused the ARI replaces field; ordering without it", "err", err)
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
