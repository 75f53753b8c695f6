package system

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/netname"
	"github.com/servagent/servagent/pkg/systemd"
)

// TLSOptions are the inputs of SetupTLS.
type TLSOptions struct {
	Layout                                   Layout
	Host                                     Host
	Systemd                                  systemd.Systemd
	Out                                      io.Writer
	Domain, Email, ACMEDirectory, ACMECAFile string
	ACMEHTTPPort                             int
	Port                                     int // 0: 443
	Obtainer                                 CertObtainer
	Version                                  string // expected from /healthz; "" = any
	HealthTimeout                            time.Duration
}

// ErrNotInstalled is returned by commands that need an existing installation.
var ErrNotInstalled = errors.New("servagent is not installed here (run: servagent install)")

// SetupTLS switches an installation to HTTPS: certificate, .env, unit
// capabilities, restart, and a /healthz check over HTTPS pinned to the new
// certificate.
func SetupTLS(ctx context.Context, o TLSOptions) (string, error) {
	l, h := o.Layout, o.Host
	logf := func(format string, args ...any) { fmt.Fprintf(o.Out, "  "+format+"\n", args...) }
	m, ok, err := l.ReadManifest()
	if err != nil {
		return "", err
	}
	if !ok {
		return "", ErrNotInstalled
	}
	uid, gid, exists, err := h.LookupUser(ServiceUser)
	if err != nil {
		return "", fmt.Errorf("user %s missing (%w): run servagent install again", ServiceUser, err)
	} else if !exists {
		return "", fmt.Errorf("user %s missing: run servagent install again", ServiceUser)
	}
	env, err := readInstallEnv(l)
	if err != nil {
		return "", err
	}
	inst := InstallOptions{Layout: l, Domain: o.Domain, Email: o.Email, ACMEDirectory: o.ACMEDirectory,
		ACMECAFile: o.ACMECAFile, ACMEHTTPPort: o.ACMEHTTPPort, Obtainer: o.Obtainer}
	if inst.Domain, err = netname.Domain(o.Domain); err != nil {
		return "", err
	}
	set, err := obtainCert(ctx, inst, env.cur.ACMEDomain, logf)
	if err != nil {
		return "", err
	}
	port := o.Port
	if port == 0 {
		port = HTTPSPort
	}
	set[config.VarPort] = strconv.Itoa(port)
	env.merge(set)
	settings, err := env.write(h, uid, gid)
	if err != nil {
		return "", err
	}
	if err := chownTree(h, l.Path(StateDir), uid, gid); err != nil {
		return "", err
	}
	logf("updated %s (TLS files, port %d)", EnvFile, port)
	if err := writeUnit(l, m.FullAccess, settings, logf); err != nil {
		return "", err
	}
	m.Domain = inst.Domain
	if err := writeManifest(l, m); err != nil {
		return "", err
	}
	if err := o.Systemd.Run(ctx, "daemon-reload"); err != nil {
		return "", err
	}
	if err := o.Systemd.Run(ctx, "restart", UnitName); err != nil {
		return "", fmt.Errorf("%w\n%s", err, o.Systemd.JournalTail(ctx, UnitName, 30))
	}
	if err := VerifyService(ctx, l, o.Systemd, settings, o.Version, o.HealthTimeout); err != nil {
		return "", err
	}
	logf("%s answers /healthz over HTTPS with the new certificate", UnitName)
	return PublicURL(settings, inst.Domain), nil
}
