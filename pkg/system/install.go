package system

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/fsutil"
	"github.com/servagent/servagent/pkg/secret"
)

// InstallOptions are the inputs of Install.
type InstallOptions struct {
	Layout   Layout
	Host     Host
	Out      io.Writer // progress lines
	SelfPath string    // the binary to install (normally the running one)
	Version  string    // version of that binary, expected from /healthz

	Domain, Email, ACMEDirectory, ACMECAFile string
	ACMEHTTPPort                             int // HTTP-01 responder port while obtaining (0: 80)
	Obtainer                                 CertObtainer

	Port       int   // 0: keep the configured port, else 8765 (443 with a domain)
	FullAccess *bool // nil: keep the previous choice (false on a fresh install)
	RotateKey  bool
	NoStart    bool

	HealthTimeout time.Duration // 0: 30s
	NewKey        func() string // nil: secret.NewKey
}

// InstallResult says what Install did, for the summary the CLI prints.
type InstallResult struct {
	NewAPIKey  string // set only when a key was generated now: print it once
	URL        string // public MCP endpoint
	FullAccess bool
	Upgrade    bool // an installation was already there
	Started    bool
}

// Install creates or upgrades the installation. Running it twice is safe: the
// second run replaces binary and unit and keeps the key and .env values.
func Install(ctx context.Context, o InstallOptions) (*InstallResult, error) {
	l, h := o.Layout, o.Host
	logf := func(format string, args ...any) { fmt.Fprintf(o.Out, "  "+format+"\n", args...) }
	if o.Domain != "" {
		var err error
		if o.Domain, err = normalizeDomain(o.Domain); err != nil {
			return nil, err
		}
	}
	prev, hadManifest, err := l.ReadManifest()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ManifestPath, err)
	}
	res := &InstallResult{Upgrade: hadManifest}
	full := prev.FullAccess
	if o.FullAccess != nil {
		full = *o.FullAccess
	}
	res.FullAccess = full

	// 1. The service user: home is the install dir, no login shell.
	uid, gid, exists, err := h.LookupUser(ServiceUser)
	if err != nil {
		return nil, fmt.Errorf("looking up user %s: %w", ServiceUser, err)
	}
	created := prev.CreatedUser
	if !exists {
		if _, err := h.Run(ctx, "useradd", "--system", "--user-group", "--home-dir", InstallDir,
			"--no-create-home", "--shell", nologinShell(l), "--comment", "servagent MCP server", ServiceUser); err != nil {
			return nil, fmt.Errorf("creating system user %s: %w", ServiceUser, err)
		}
		if uid, gid, exists, err = h.LookupUser(ServiceUser); err != nil || !exists {
			return nil, fmt.Errorf("user %s not found after useradd: %v", ServiceUser, err)
		}
		created = true
		logf("created system user %s (uid %d)", ServiceUser, uid)
	}
	m := Manifest{CreatedUser: created, FullAccess: full, Version: o.Version, Domain: prev.Domain}

	// 2. Layout. The binary and its directory stay root's, so the service
	// cannot replace its own code; .env, skills and state are the user's.
	dirs := []struct {
		path     string
		mode     os.FileMode
		userOwns bool
	}{{InstallDir, 0o755, false}, {filepath.Dir(BinPath), 0o755, false}, {SkillsDir, 0o700, true}, {StateDir, 0o700, true}}
	for _, d := range dirs {
		p := l.Path(d.path)
		if err := os.MkdirAll(p, d.mode); err != nil {
			return nil, err
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return nil, err
		}
		if d.userOwns {
			if err := h.Chown(p, uid, gid); err != nil {
				return nil, err
			}
		}
	}
	// Written now so an uninstall can clean up even if a later step fails.
	if err := writeManifest(l, m); err != nil {
		return nil, err
	}
	if err := installBinary(o.SelfPath, l.Path(BinPath)); err != nil {
		return nil, fmt.Errorf("installing the binary: %w", err)
	}
	logf("installed %s (%s)", BinPath, o.Version)
	if msg := ensureSymlink(l); msg != "" {
		logf("%s", msg)
	}

	// 3. .env: generate only what is missing; flags given now win.
	envPath := l.Path(EnvFile)
	cur := map[string]string{}
	if _, err := os.Stat(envPath); err == nil {
		if cur, err = config.ReadEnvFile(envPath); err != nil {
			return nil, err
		}
	} else if err := fsutil.WriteFile(envPath, []byte("# servagent configuration ("+Marker+").\n# Every SERVAGENT_* variable: servagent serve --help. Apply changes: systemctl restart servagent\n"), 0o600); err != nil {
		return nil, err
	}
	set := map[string]string{}
	setDefault := func(k, v string) {
		if cur[k] == "" {
			set[k] = v
		}
	}
	newKey := o.NewKey
	if newKey == nil {
		newKey = secret.NewKey
	}
	if cur["SERVAGENT_API_KEY"] == "" || o.RotateKey {
		res.NewAPIKey = newKey()
		set["SERVAGENT_API_KEY"] = res.NewAPIKey
	}
	setDefault("SERVAGENT_HOST", "0.0.0.0")
	setDefault("SERVAGENT_SKILLS_DIR", SkillsDir)
	setDefault("SERVAGENT_STATE_DIR", StateDir)
	setDefault("SERVAGENT_OAUTH_DB_PATH", OAuthDBPath)
	switch {
	case o.Port != 0:
		set["SERVAGENT_PORT"] = strconv.Itoa(o.Port)
	case o.Domain != "" && cur["SERVAGENT_ACME_DOMAIN"] != o.Domain:
		set["SERVAGENT_PORT"] = strconv.Itoa(HTTPSPort)
	default:
		setDefault("SERVAGENT_PORT", strconv.Itoa(DefaultPort))
	}

	// 4. Certificate, before the service (re)starts on 443.
	if o.Domain != "" {
		tlsSet, err := obtainCert(ctx, o, cur, logf)
		if err != nil {
			return nil, err
		}
		for k, v := range tlsSet {
			set[k] = v
		}
		m.Domain = o.Domain
	}
	if err := config.UpdateEnvFile(envPath, set); err != nil {
		return nil, err
	}
	if err := os.Chmod(envPath, 0o600); err != nil {
		return nil, err
	}
	if err := h.Chown(envPath, uid, gid); err != nil {
		return nil, err
	}
	if err := chownTree(h, l.Path(StateDir), uid, gid); err != nil {
		return nil, err
	}
	env, err := config.ReadEnvFile(envPath)
	if err != nil {
		return nil, err
	}
	logf("wrote %s (mode 0600, owner %s)", EnvFile, ServiceUser)

	// 5. sudoers, then the unit that matches it.
	if err := applySudoers(ctx, l, h, full, logf); err != nil {
		return nil, err
	}
	if err := writeUnit(l, full, env, logf); err != nil {
		return nil, err
	}
	if err := writeManifest(l, m); err != nil {
		return nil, err
	}

	// 6. systemd.
	if err := systemctl(ctx, h, "daemon-reload"); err != nil {
		return nil, err
	}
	if err := systemctl(ctx, h, "enable", "--quiet", UnitName); err != nil {
		return nil, err
	}
	res.URL = PublicURL(env, o.Domain)
	if o.NoStart {
		logf("enabled %s (not started: --no-start)", UnitName)
		return res, nil
	}
	// restart, not start: an upgrade must run the new binary and unit.
	if err := systemctl(ctx, h, "restart", UnitName); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, JournalTail(ctx, h, 30))
	}
	if err := VerifyService(ctx, l, h, env, o.Version, o.HealthTimeout); err != nil {
		return nil, err
	}
	res.Started = true
	logf("%s is active and /healthz answers", UnitName)
	return res, nil
}

// VerifyService waits for the service's /healthz (HTTPS when .env configures
// TLS, pinned to the configured certificate) and returns the journal's last
// lines on failure.
func VerifyService(ctx context.Context, l Layout, h Host, env map[string]string, version string, timeout time.Duration) error {
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	url, client, err := HealthEndpoint(l, env)
	if err != nil {
		return err
	}
	if _, err := WaitHealthy(ctx, client, url, version, timeout); err != nil {
		return fmt.Errorf("%s did not become healthy: %w\nlast journal lines:\n%s", UnitName, err, JournalTail(ctx, h, 30))
	}
	return nil
}

// HealthEndpoint returns the local /healthz URL of the configured service and
// a client for it.
func HealthEndpoint(l Layout, env map[string]string) (string, *http.Client, error) {
	host := env["SERVAGENT_HOST"]
	if host == "" || host == "0.0.0.0" || host == "::" || host == "[::]" {
		host = "127.0.0.1"
	}
	port := env["SERVAGENT_PORT"]
	if port == "" {
		port = strconv.Itoa(DefaultPort)
	}
	hostport := net.JoinHostPort(strings.Trim(host, "[]"), port)
	if cert := env["SERVAGENT_TLS_CERTFILE"]; cert != "" {
		name := env["SERVAGENT_ACME_DOMAIN"]
		c, err := PinnedClient(l.Path(cert), name)
		if err != nil {
			return "", nil, err
		}
		return "https://" + hostport + "/healthz", c, nil
	}
	return "http://" + hostport + "/healthz", &http.Client{Timeout: 5 * time.Second}, nil
}

// PublicURL is the MCP endpoint a client should use.
func PublicURL(env map[string]string, domain string) string {
	if domain == "" {
		domain = env["SERVAGENT_ACME_DOMAIN"]
	}
	port := env["SERVAGENT_PORT"]
	if env["SERVAGENT_TLS_CERTFILE"] != "" {
		host := domain
		if host == "" {
			host = publicIP()
		}
		if port != "443" && port != "" {
			host = net.JoinHostPort(host, port)
		}
		return "https://" + host + "/mcp"
	}
	host := env["SERVAGENT_HOST"]
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = publicIP()
	}
	return "http://" + net.JoinHostPort(host, port) + "/mcp"
}

// publicIP guesses the address clients reach: the first global unicast
// IPv4 address, else the hostname.
func publicIP() string {
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				return ipn.IP.String()
			}
		}
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "127.0.0.1"
}

func obtainCert(ctx context.Context, o InstallOptions, cur map[string]string, logf func(string, ...any)) (map[string]string, error) {
	l := o.Layout
	certFile := filepath.Join(StateDir, "certs", o.Domain, "fullchain.pem")
	keyFile := filepath.Join(StateDir, "certs", o.Domain, "privkey.pem")
	have := cur["SERVAGENT_ACME_DOMAIN"] == o.Domain && fileExists(l.Path(certFile)) && fileExists(l.Path(keyFile))
	if !have {
		if o.Obtainer == nil {
			return nil, ErrNoObtainer
		}
		logf("obtaining a certificate for %s (HTTP-01)...", o.Domain)
		c, k, err := o.Obtainer.Obtain(ctx, CertRequest{Domain: o.Domain, Email: o.Email, DirectoryURL: o.ACMEDirectory,
			CAFile: o.ACMECAFile, StateDir: l.Path(StateDir), HTTPPort: o.ACMEHTTPPort})
		if err != nil {
			return nil, err
		}
		certFile, keyFile = l.unprefix(c), l.unprefix(k)
		logf("certificate saved in %s", filepath.Dir(certFile))
	} else {
		logf("keeping the certificate for %s in %s (serve renews it)", o.Domain, filepath.Dir(certFile))
	}
	set := map[string]string{
		"SERVAGENT_TLS_CERTFILE": certFile,
		"SERVAGENT_TLS_KEYFILE":  keyFile,
		"SERVAGENT_ACME_DOMAIN":  o.Domain,
	}
	if o.Email != "" {
		set["SERVAGENT_ACME_EMAIL"] = o.Email
	}
	if o.ACMEDirectory != "" {
		set["SERVAGENT_ACME_DIRECTORY"] = o.ACMEDirectory
	}
	if o.ACMECAFile != "" {
		// Copied into the state dir: the service's private /tmp and
		// ProtectHome would hide the operator's original for renewals.
		data, err := os.ReadFile(o.ACMECAFile)
		if err != nil {
			return nil, fmt.Errorf("--acme-ca-file: %w", err)
		}
		ca := filepath.Join(StateDir, "acme-ca.pem")
		if err := fsutil.WriteFile(l.Path(ca), data, 0o644); err != nil {
			return nil, err
		}
		set["SERVAGENT_ACME_CA_FILE"] = ca
	}
	return set, nil
}

func applySudoers(ctx context.Context, l Layout, h Host, full bool, logf func(string, ...any)) error {
	path := l.Path(SudoersPath)
	exists, owned := ownedFile(path)
	switch {
	case full:
		if exists && !owned {
			return fmt.Errorf("%s exists and was not written by servagent install; remove it or run without --full-access", SudoersPath)
		}
		if err := writeSudoers(ctx, l, h); err != nil {
			return err
		}
		logf("wrote %s (servagent ALL=(ALL) NOPASSWD: ALL, checked with visudo)", SudoersPath)
	case owned:
		if err := os.Remove(path); err != nil {
			return err
		}
		logf("removed %s (full access turned off)", SudoersPath)
	case exists:
		logf("warning: %s was not written by servagent install and was left alone", SudoersPath)
	}
	return nil
}

func writeUnit(l Layout, full bool, env map[string]string, logf func(string, ...any)) error {
	port, _ := strconv.Atoi(env["SERVAGENT_PORT"])
	var rw []string
	for _, p := range strings.Split(env["SERVAGENT_READ_WRITE_PATHS"], ",") {
		if p = strings.TrimSpace(p); p != "" {
			rw = append(rw, p)
		}
	}
	// serve binds the ACME HTTP-01 port too when it is set.
	acmePort, _ := strconv.Atoi(env["SERVAGENT_ACME_HTTP_PORT"])
	text, err := RenderUnit(UnitConfig{FullAccess: full, BindPrivileged: (port > 0 && port < 1024) || (acmePort > 0 && acmePort < 1024), ReadWritePaths: rw})
	if err != nil {
		return err
	}
	path := l.Path(UnitPath)
	if exists, owned := ownedFile(path); exists && !owned {
		logf("replacing %s, which was not written by servagent install", UnitPath)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := fsutil.WriteFile(path, []byte(text), 0o644); err != nil {
		return err
	}
	variant := "hardened"
	if full {
		variant = "full access"
	}
	logf("wrote %s (%s)", UnitPath, variant)
	return nil
}

func writeManifest(l Layout, m Manifest) error {
	data, _ := json.MarshalIndent(m, "", "  ")
	return fsutil.WriteFile(l.Path(ManifestPath), append(data, '\n'), 0o644)
}

// installBinary copies src over dst atomically, unless src already is dst
// (install run again from the installed binary).
func installBinary(src, dst string) error {
	if rs, err := filepath.EvalSymlinks(src); err == nil {
		src = rs
	}
	if rd, err := filepath.EvalSymlinks(dst); err == nil && rd == src {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := fsutil.WriteFrom(dst, 0o755, func(w io.Writer) error { _, err := io.Copy(w, in); return err }); err != nil {
		return err
	}
	return os.Chmod(dst, 0o755)
}

// ensureSymlink points /usr/local/bin/servagent at the installed binary,
// leaving alone anything else already at that path.
func ensureSymlink(l Layout) string {
	p := l.Path(SymlinkPath)
	target, err := os.Readlink(p)
	switch {
	case err == nil && target == BinPath:
		return ""
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "warning: " + err.Error()
		}
		if err := os.Symlink(BinPath, p); err != nil {
			return "warning: " + err.Error()
		}
		return "linked " + SymlinkPath + " -> " + BinPath
	default:
		return "warning: " + SymlinkPath + " already exists and is not servagent's link; left alone"
	}
}

func chownTree(h Host, root string, uid, gid int) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return h.Chown(p, uid, gid)
	})
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func (l Layout) unprefix(p string) string {
	if l.Root == "" {
		return p
	}
	if rel, err := filepath.Rel(l.Root, p); err == nil && !strings.HasPrefix(rel, "..") {
		return "/" + rel
	}
	return p
}

func nologinShell(l Layout) string {
	for _, s := range []string{"/usr/sbin/nologin", "/sbin/nologin"} {
		if fileExists(l.Path(s)) {
			return s
		}
	}
	return "/bin/false"
}

func lowerTrim(d string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
}

func validateDomain(d string) error {
	if len(d) > 253 || !strings.Contains(d, ".") || net.ParseIP(d) != nil {
		return fmt.Errorf("invalid domain %q: expected a DNS name such as mcp.example.com", d)
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("invalid domain %q: expected a DNS name such as mcp.example.com", d)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("invalid domain %q: expected a DNS name such as mcp.example.com", d)
			}
		}
	}
	return nil
}
