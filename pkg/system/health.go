package system

import (
	"context"
	"net"
	"strconv"

	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/servagent/servagent/pkg/clientconfig"
	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/systemd"
	"github.com/servagent/servagent/pkg/timeutil"
	"net/http"
	"os"
	"strings"
	"time"
)

// DefaultHealthTimeout is how long a started service has to answer /healthz
// before install, update (which then rolls back) and tls setup give up.
const DefaultHealthTimeout = 30 * time.Second

// Health is the /healthz answer of serve.
type Health struct {
	Status  string `json:"status"`
	Version string `json:"version"`
}

// CheckHealth GETs url once.
func CheckHealth(ctx context.Context, c *http.Client, url string) (Health, error) {
	var h Health
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return h, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return h, fmt.Errorf("%s: %w", url, err)
	}
	if h.Status != "ok" {
		return h, fmt.Errorf("%s: status %q", url, h.Status)
	}
	return h, nil
}

// WaitHealthy polls url until it answers ok (and, when wantVersion is set,
// reports that version) or timeout passes.
func WaitHealthy(ctx context.Context, c *http.Client, url, wantVersion string, timeout time.Duration) (Health, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		h, err := CheckHealth(ctx, c, url)
		if err == nil && wantVersion != "" && !SameVersion(h.Version, wantVersion) {
			err = fmt.Errorf("%s reports version %s, want %s", url, h.Version, wantVersion)
		}
		if err == nil {
			return h, nil
		}
		last = err
		if !timeutil.Sleep(ctx, 200*time.Millisecond) {
			return h, fmt.Errorf("no healthy answer within %s: %w", timeout, last)
		}
	}
}

// SameVersion compares versions with or without the leading "v".
func SameVersion(a, b string) bool { return strings.TrimPrefix(a, "v") == strings.TrimPrefix(b, "v") }

// PinnedClient returns an HTTPS client that accepts exactly the leaf
// certificate in certFile for serverName: it proves the service serves the
// certificate just obtained, whatever CA issued it (Pebble in tests).
func PinnedClient(certFile, serverName string) (*http.Client, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(data)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM certificate", certFile)
	}
	want := blk.Bytes
	cfg := &tls.Config{
		ServerName:         serverName,
		InsecureSkipVerify: true, // replaced by the exact-leaf check below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || string(raw[0]) != string(want) {
				return errors.New("the service does not serve the certificate in " + certFile)
			}
			return nil
		},
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}, nil
}

// VerifyService waits for the service's /healthz (HTTPS when .env configures
// TLS, pinned to the configured certificate) and returns the journal's last
// lines on failure.
func VerifyService(ctx context.Context, l Layout, sd systemd.Systemd, s *config.Config, version string, timeout time.Duration) error {
	if timeout == 0 {
		timeout = DefaultHealthTimeout
	}
	url, client, err := HealthEndpoint(l, s)
	if err != nil {
		return err
	}
	if _, err := WaitHealthy(ctx, client, url, version, timeout); err != nil {
		return fmt.Errorf("%s did not become healthy: %w\nlast journal lines:\n%s", UnitName, err, sd.JournalTail(ctx, UnitName, 30))
	}
	return nil
}

// HealthEndpoint returns the local /healthz URL of the service configured
// by s and a client for it.
func HealthEndpoint(l Layout, s *config.Config) (string, *http.Client, error) {
	host := s.Host
	if host == "" || host == "0.0.0.0" || host == "::" || host == "[::]" {
		host = "127.0.0.1"
	}
	hostport := net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(s.Port))
	if s.TLSCertFile != "" {
		c, err := PinnedClient(l.Path(s.TLSCertFile), s.ACMEDomain)
		if err != nil {
			return "", nil, err
		}
		return "https://" + hostport + "/healthz", c, nil
	}
	return "http://" + hostport + "/healthz", &http.Client{Timeout: 5 * time.Second}, nil
}

// PublicURL is the MCP endpoint a client should use for the service
// configured by s; domain, when set, wins over the .env's.
func PublicURL(s *config.Config, domain string) string {
	if domain == "" {
		domain = s.ACMEDomain
	}
	tls := s.TLSCertFile != ""
	if !tls {
		domain = "" // no certificate: clients dial the address
	}
	return clientconfig.MCPURL(tls, s.Host, s.Port, domain)
}
