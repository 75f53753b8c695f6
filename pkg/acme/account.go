package acme

// The ACME account and the file layout under StateDir.

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	legoacme "github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/lego"
	"github.com/go-acme/lego/v5/registration"

	"github.com/servagent/servagent/pkg/fsutil"
)

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
