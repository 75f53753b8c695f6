package system

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/servagent/servagent/pkg/acme"
)

// CertRequest asks for a certificate for Domain, kept under StateDir.
type CertRequest struct {
	Domain, Email, DirectoryURL, CAFile, StateDir string
	// HTTPPort is where the temporary HTTP-01 responder listens (80; tests
	// use Pebble's random port).
	HTTPPort int
}

// CertObtainer gets a certificate and returns the paths of chain and key.
type CertObtainer interface {
	Obtain(ctx context.Context, r CertRequest) (certFile, keyFile string, err error)
}

// ACMEObtainer obtains the certificate in-process with pkg/acme (lego),
// answering HTTP-01 from a listener it holds only for the duration.
type ACMEObtainer struct{ Logger *slog.Logger }

func (o ACMEObtainer) Obtain(ctx context.Context, r CertRequest) (string, string, error) {
	m, err := acme.New(acme.Options{Domain: r.Domain, Email: r.Email, DirectoryURL: r.DirectoryURL,
		CAFile: r.CAFile, StateDir: r.StateDir, Logger: o.Logger})
	if err != nil {
		return "", "", err
	}
	port := r.HTTPPort
	if port == 0 {
		port = 80
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		return "", "", fmt.Errorf("HTTP-01 needs port %d free while the certificate is obtained: %w", port, err)
	}
	srv := &http.Server{Handler: m.HTTPHandler(nil), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := m.Obtain(ctx, acme.HTTP01); err != nil {
		return "", "", fmt.Errorf("obtaining a certificate for %s (its DNS must point here and port %d be reachable): %w", r.Domain, port, err)
	}
	return m.CertFile(), m.KeyFile(), nil
}

// ErrNoObtainer is returned when a domain is given but no CertObtainer is set.
var ErrNoObtainer = errors.New("no certificate obtainer configured")
