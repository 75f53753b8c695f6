package server

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// certReloader serves the certificate in a pair of PEM files and re-reads
// them when they change on disk, so a renewal (by servagent's own ACME loop
// or any other tool) applies without a restart. The files are checked at
// most once per checkEvery, on handshakes.
type certReloader struct {
	certFile, keyFile string
	checkEvery        time.Duration

	mu        sync.Mutex
	cert      *tls.Certificate
	certStamp fileStamp
	keyStamp  fileStamp
	checked   time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stamp(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, checkEvery: time.Second}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) load() error {
	cs, err := stamp(r.certFile)
	if err != nil {
		return fmt.Errorf("loading TLS certificate: %w", err)
	}
	ks, err := stamp(r.keyFile)
	if err != nil {
		return fmt.Errorf("loading TLS key: %w", err)
	}
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("loading TLS key pair %s / %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.certStamp, r.keyStamp = &c, cs, ks
	return nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= r.checkEvery {
		r.checked = time.Now()
		cs, err1 := stamp(r.certFile)
		ks, err2 := stamp(r.keyFile)
		if err1 == nil && err2 == nil && (cs != r.certStamp || ks != r.keyStamp) {
			// A half-written pair fails to load: keep serving the old one
			// and try again on a later handshake.
			oldCert, oldCS, oldKS := r.cert, r.certStamp, r.keyStamp
			if err := r.load(); err != nil {
				r.cert, r.certStamp, r.keyStamp = oldCert, oldCS, oldKS
			}
		}
	}
	return r.cert, nil
}
