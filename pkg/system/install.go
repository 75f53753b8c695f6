package system

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/fsutil"
	"github.com/servagent/servagent/pkg/netname"
	"github.com/servagent/servagent/pkg/secret"
	"github.com/servagent/servagent/pkg/systemd"
)

// InstallOptions are the inputs of Install.
type InstallOptions struct {
	Layout   Layout
	Host     Host
	Systemd  systemd.Systemd
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

	HealthTimeout time.Duration // 0: DefaultHealthTimeout
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
	in, err := newInstaller(o)
	if err != nil {
		return nil, err
	}
	steps := []func(context.Context) error{in.ensureUser, in.installFiles, in.planEnv, in.obtainCert, in.writeEnv, in.writeService, in.start}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return in.res, nil
}

// installer carries one Install run from step to step.
type installer struct {
	o        InstallOptions
	l        Layout
	h        Host
	logf     func(format string, args ...any)
	res      *InstallResult
	manifest Manifest
	uid, gid int
	env      *installEnv
	settings *config.Config // the .env as written, which the service reads
}

// newInstaller checks the inputs and reads what a previous install left,
// before anything on the machine changes.
func newInstaller(o InstallOptions) (*installer, error) {
	in := &installer{o: o, l: o.Layout, h: o.Host,
		logf: func(format string, args ...any) { fmt.Fprintf(o.Out, "  "+format+"\n", args...) }}
	if o.Domain != "" {
		var err error
		if in.o.Domain, err = netname.Domain(o.Domain); err != nil {
			return nil, err
		}
	}
	prev, hadManifest, err := in.l.ReadManifest()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ManifestPath, err)
	}
	full := prev.FullAccess
	if o.FullAccess != nil {
		full = *o.FullAccess
	}
	in.res = &InstallResult{Upgrade: hadManifest, FullAccess: full}
	in.manifest = Manifest{CreatedUser: prev.CreatedUser, FullAccess: full, Version: o.Version, Domain: prev.Domain}
	if in.env, err = readInstallEnv(in.l); err != nil {
		return nil, err
	}
	return in, nil
}

// ensureUser creates the service user (home the install dir, no login
// shell) unless it exists.
func (in *installer) ensureUser(ctx context.Context) error {
	uid, gid, exists, err := in.h.LookupUser(ServiceUser)
	if err != nil {
		return fmt.Errorf("looking up user %s: %w", ServiceUser, err)
	}
	if !exists {
		if _, err := in.h.Run(ctx, "useradd", "--system", "--user-group", "--home-dir", InstallDir,
			"--no-create-home", "--shell", nologinShell(in.l), "--comment", "servagent MCP server", ServiceUser); err != nil {
			return fmt.Errorf("creating system user %s: %w", ServiceUser, err)
		}
		if uid, gid, exists, err = in.h.LookupUser(ServiceUser); err != nil {
			return fmt.Errorf("user %s not found after useradd: %w", ServiceUser, err)
		} else if !exists {
			return fmt.Errorf("user %s not found after useradd", ServiceUser)
		}
		in.manifest.CreatedUser = true
		in.logf("created system user %s (uid %d)", ServiceUser, uid)
	}
	in.uid, in.gid = uid, gid
	return nil
}

// installFiles lays out the directories and the binary. The binary and its
// directory stay root's, so the service cannot replace its own code; .env,
// skills and state are the service user's.
func (in *installer) installFiles(context.Context) error {
	dirs := []struct {
		path     string
		mode     os.FileMode
		userOwns bool
	}{{InstallDir, 0o755, false}, {filepath.Dir(BinPath), 0o755, false}, {SkillsDir, 0o700, true}, {StateDir, 0o700, true}}
	for _, d := range dirs {
		p := in.l.Path(d.path)
		if err := os.MkdirAll(p, d.mode); err != nil {
			return err
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return err
		}
		if d.userOwns {
			if err := in.h.Chown(p, in.uid, in.gid); err != nil {
				return err
			}
		}
	}
	// Written now so an uninstall can clean up even if a later step fails.
	if err := writeManifest(in.l, in.manifest); err != nil {
		return err
	}
	if err := installBinary(in.o.SelfPath, in.l.Path(BinPath)); err != nil {
		return fmt.Errorf("installing the binary: %w", err)
	}
	in.logf("installed %s (%s)", BinPath, in.o.Version)
	if msg := ensureSymlink(in.l); msg != "" {
		in.logf("%s", msg)
	}
	return nil
}

// planEnv decides the .env assignments: generate only what is missing;
// flags given now win.
func (in *installer) planEnv(context.Context) error {
	e, o := in.env, in.o
	if !e.isSet(config.VarAPIKey) || o.RotateKey {
		newKey := o.NewKey
		if newKey == nil {
			newKey = secret.NewKey
		}
		in.res.NewAPIKey = newKey()
		e.set[config.VarAPIKey] = in.res.NewAPIKey
	}
	e.setDefault(config.VarHost, "0.0.0.0")
	e.setDefault(config.VarSkillsDir, SkillsDir)
	e.setDefault(config.VarStateDir, StateDir)
	e.setDefault(config.VarOAuthDBPath, OAuthDBPath)
	switch {
	case o.Port != 0:
		e.set[config.VarPort] = strconv.Itoa(o.Port)
	case o.Domain != "" && e.cur.ACMEDomain != o.Domain:
		e.set[config.VarPort] = strconv.Itoa(HTTPSPort)
	default:
		e.setDefault(config.VarPort, strconv.Itoa(DefaultPort))
	}
	return nil
}

// obtainCert gets the certificate before the service (re)starts on 443.
func (in *installer) obtainCert(ctx context.Context) error {
	if in.o.Domain == "" {
		return nil
	}
	set, err := obtainCert(ctx, in.o, in.env.cur.ACMEDomain, in.logf)
	if err != nil {
		return err
	}
	in.env.merge(set)
	in.manifest.Domain = in.o.Domain
	return nil
}

func (in *installer) writeEnv(context.Context) error {
	var err error
	if in.settings, err = in.env.write(in.h, in.uid, in.gid); err != nil {
		return err
	}
	if err := chownTree(in.h, in.l.Path(StateDir), in.uid, in.gid); err != nil {
		return err
	}
	in.logf("wrote %s (mode 0600, owner %s)", EnvFile, ServiceUser)
	return nil
}

// writeService writes the sudoers rule, then the unit that matches it, and
// enables the unit.
func (in *installer) writeService(ctx context.Context) error {
	if err := applySudoers(ctx, in.l, in.h, in.res.FullAccess, in.logf); err != nil {
		return err
	}
	if err := writeUnit(in.l, in.res.FullAccess, in.settings, in.logf); err != nil {
		return err
	}
	if err := writeManifest(in.l, in.manifest); err != nil {
		return err
	}
	if err := in.o.Systemd.Run(ctx, "daemon-reload"); err != nil {
		return err
	}
	if err := in.o.Systemd.Run(ctx, "enable", "--quiet", UnitName); err != nil {
		return err
	}
	in.res.URL = PublicURL(in.settings, in.o.Domain)
	return nil
}

// start restarts the service, not just starts it (an upgrade must run the
// new binary and unit), and waits for /healthz; --no-start skips it.
func (in *installer) start(ctx context.Context) error {
	if in.o.NoStart {
		in.logf("enabled %s (not started: --no-start)", UnitName)
		return nil
	}
	if err := in.o.Systemd.Run(ctx, "restart", UnitName); err != nil {
		return fmt.Errorf("%w\n%s", err, in.o.Systemd.JournalTail(ctx, UnitName, 30))
	}
	if err := VerifyService(ctx, in.l, in.o.Systemd, in.settings, in.o.Version, in.o.HealthTimeout); err != nil {
		return err
	}
	in.res.Started = true
	in.logf("%s is active and /healthz answers", UnitName)
	return nil
}

// obtainCert gets a certificate for o.Domain unless the installation already
// has one for it (curDomain is the .env's), and returns the .env assignments.
func obtainCert(ctx context.Context, o InstallOptions, curDomain string, logf func(string, ...any)) (map[string]string, error) {
	l := o.Layout
	certFile := filepath.Join(StateDir, "certs", o.Domain, "fullchain.pem")
	keyFile := filepath.Join(StateDir, "certs", o.Domain, "privkey.pem")
	have := curDomain == o.Domain && l.Exists(certFile) && l.Exists(keyFile)
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
		config.VarTLSCertFile: certFile,
		config.VarTLSKeyFile:  keyFile,
		config.VarACMEDomain:  o.Domain,
	}
	if o.Email != "" {
		set[config.VarACMEEmail] = o.Email
	}
	if o.ACMEDirectory != "" {
		set[config.VarACMEDirectory] = o.ACMEDirectory
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
		set[config.VarACMECAFile] = ca
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

func writeUnit(l Layout, full bool, s *config.Config, logf func(string, ...any)) error {
	// serve binds the ACME HTTP-01 port too when it is set.
	privileged := func(port int) bool { return port > 0 && port < 1024 }
	text, err := RenderUnit(UnitConfig{FullAccess: full, BindPrivileged: privileged(s.Port) || privileged(s.ACMEHTTPPort), ReadWritePaths: s.ReadWritePaths})
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
		if l.Exists(s) {
			return s
		}
	}
	return "/bin/false"
}
