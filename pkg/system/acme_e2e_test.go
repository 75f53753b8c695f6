package system

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/servagent/servagent/internal/testutil/pebbletest"
)

// TestInstallDomainWithPebble runs install's DOMAIN path for real: pkg/acme
// against a local Pebble, HTTP-01 answered by install's temporary listener.
func TestInstallDomainWithPebble(t *testing.T) {
	env := pebbletest.Start(t, "../../scripts/testinfra/pebble-up.sh")
	root, h := t.TempDir(), newFakeHost()
	res, out, err := testInstall(t, root, h, func(o *InstallOptions) {
		o.Domain, o.Email = "mcp.servagent.test", "ops@servagent.test"
		o.ACMEDirectory, o.ACMECAFile, o.ACMEHTTPPort = env.DirectoryURL, env.CACert, env.HTTP01Port
		o.Obtainer, o.Port, o.NoStart = ACMEObtainer{}, 0, true
	})
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	e := readEnv(t, root)
	if e["SERVAGENT_PORT"] != "443" || e["SERVAGENT_ACME_DOMAIN"] != "mcp.servagent.test" || res.URL != "https://mcp.servagent.test/mcp" {
		t.Fatalf(".env %v, URL %s", e, res.URL)
	}
	certPEM, err := os.ReadFile(filepath.Join(root, e["SERVAGENT_TLS_CERTFILE"]))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	inter := x509.NewCertPool()
	for rest := certPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			inter.AddCert(c)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "mcp.servagent.test", Roots: env.IssuerPool(t), Intermediates: inter}); err != nil {
		t.Fatalf("certificate does not verify against Pebble's root: %v", err)
	}
	// Key material is private: 0600 files under a 0700 state dir.
	filepath.WalkDir(filepath.Join(root, StateDir), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".key") || strings.HasSuffix(p, "privkey.pem")) {
			if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v", p, fi.Mode())
			}
		}
		return nil
	})
	ca, err := os.ReadFile(filepath.Join(root, e["SERVAGENT_ACME_CA_FILE"]))
	if want, _ := os.ReadFile(env.CACert); err != nil || string(ca) != string(want) {
		t.Errorf("ACME CA not copied into the state dir: %v", err)
	}
}
