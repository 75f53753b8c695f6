package system

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/servagent/servagent/pkg/systemd"
)

// KeptCertsDir is where uninstall --keep-certs moves the ACME account and
// certificates: outside /opt/servagent, root-only.
const KeptCertsDir = "/var/backups/servagent"

// UninstallOptions are the inputs of Uninstall.
type UninstallOptions struct {
	Layout    Layout
	Host      Host
	Systemd   systemd.Systemd
	Out       io.Writer
	KeepCerts bool
	Now       func() time.Time
}

// Plan lists what Uninstall would remove; empty means nothing is installed.
type Plan struct {
	Unit, Sudoers, Symlink, InstallDir, User bool
	Left                                     []string // things found but not ours, left alone
}

// Empty reports whether there is nothing of servagent's left.
func (p Plan) Empty() bool { return !p.Unit && !p.Sudoers && !p.Symlink && !p.InstallDir && !p.User }

// Items describes the plan for a confirmation prompt.
func (p Plan) Items() []string {
	var s []string
	if p.Unit {
		s = append(s, "the service "+UnitName+" (stopped, disabled, unit file removed)")
	}
	if p.Sudoers {
		s = append(s, SudoersPath)
	}
	if p.InstallDir {
		s = append(s, InstallDir+" (binary, .env with the API key, skills, state)")
	}
	if p.Symlink {
		s = append(s, SymlinkPath)
	}
	if p.User {
		s = append(s, "the system user "+ServiceUser)
	}
	return s
}

// PlanUninstall finds what install created. Only files carrying Marker, the
// symlink to our binary, the directory with our manifest and a user the
// manifest says install created count.
func PlanUninstall(l Layout, h Host) (Plan, error) {
	var p Plan
	m, hasManifest, err := l.ReadManifest()
	if err != nil {
		return p, err
	}
	if ex, owned := ownedFile(l.Path(UnitPath)); owned {
		p.Unit = true
	} else if ex {
		p.Left = append(p.Left, UnitPath+" (not written by servagent install)")
	}
	if ex, owned := ownedFile(l.Path(SudoersPath)); owned {
		p.Sudoers = true
	} else if ex {
		p.Left = append(p.Left, SudoersPath+" (not written by servagent install)")
	}
	if t, err := os.Readlink(l.Path(SymlinkPath)); err == nil && t == BinPath {
		p.Symlink = true
	}
	if hasManifest {
		p.InstallDir = true
	} else if l.Exists(InstallDir) {
		p.Left = append(p.Left, InstallDir+" (no install manifest)")
	}
	if _, _, exists, err := h.LookupUser(ServiceUser); err != nil {
		return p, err
	} else if exists && hasManifest && m.CreatedUser {
		p.User = true
	} else if exists {
		p.Left = append(p.Left, "user "+ServiceUser+" (existed before servagent install)")
	}
	return p, nil
}

// Uninstall removes what PlanUninstall found, in an order that a crash can't
// strand: the user goes before the directory holding the manifest that
// proves install created it.
func Uninstall(ctx context.Context, o UninstallOptions, p Plan) error {
	l, h := o.Layout, o.Host
	logf := func(format string, args ...any) { fmt.Fprintf(o.Out, "  "+format+"\n", args...) }
	if p.Unit {
		// Errors ignored: the unit may already be stopped or never loaded.
		_ = o.Systemd.Run(ctx, "disable", "--now", "--quiet", UnitName)
		if err := os.Remove(l.Path(UnitPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := o.Systemd.Run(ctx, "daemon-reload"); err != nil {
			return err
		}
		_ = o.Systemd.Run(ctx, "reset-failed", UnitName)
		logf("stopped, disabled and removed %s", UnitName)
		if l.Exists(UnitPath + ".d") {
			logf("left %s.d (drop-ins are the operator's)", UnitPath)
		}
	}
	if p.Sudoers {
		if err := os.Remove(l.Path(SudoersPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		logf("removed %s", SudoersPath)
	}
	if p.Symlink {
		if err := os.Remove(l.Path(SymlinkPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		logf("removed %s", SymlinkPath)
	}
	if p.InstallDir && o.KeepCerts {
		dst, err := keepCerts(o)
		if err != nil {
			return fmt.Errorf("keeping the certificates: %w", err)
		}
		if dst != "" {
			logf("kept the ACME account and certificates in %s", dst)
		} else {
			logf("no certificates to keep")
		}
	}
	if p.User {
		if out, err := h.Run(ctx, "userdel", ServiceUser); err != nil {
			return fmt.Errorf("removing user %s: %w: %s", ServiceUser, err, strings.TrimSpace(out))
		}
		logf("removed system user %s", ServiceUser)
	}
	if p.InstallDir {
		if err := os.RemoveAll(l.Path(InstallDir)); err != nil {
			return err
		}
		logf("removed %s", InstallDir)
	}
	for _, s := range p.Left {
		logf("left alone: %s", s)
	}
	return nil
}

// keepCerts moves <state>/acme and <state>/certs to a fresh directory under
// KeptCertsDir and returns it ("" when there was nothing to keep).
func keepCerts(o UninstallOptions) (string, error) {
	l := o.Layout
	var found []string
	for _, name := range []string{"acme", "certs"} {
		if l.Exists(filepath.Join(StateDir, name)) {
			found = append(found, name)
		}
	}
	if len(found) == 0 {
		return "", nil
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	dst := filepath.Join(KeptCertsDir, "certs-"+now().UTC().Format("20060102-150405"))
	if err := os.MkdirAll(l.Path(dst), 0o700); err != nil {
		return "", err
	}
	os.Chmod(l.Path(KeptCertsDir), 0o700)
	for _, name := range found {
		src := l.Path(filepath.Join(StateDir, name))
		to := l.Path(filepath.Join(dst, name))
		if err := os.Rename(src, to); err != nil {
			if err := copyTree(src, to); err != nil {
				return "", err
			}
		}
		// Root's from now on: the service user is about to disappear and its
		// uid could be reused by the next system user.
		filepath.WalkDir(to, func(p string, d fs.DirEntry, err error) error {
			if err == nil {
				o.Host.Chown(p, 0, 0)
			}
			return nil
		})
	}
	return dst, nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(to, info.Mode().Perm())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, info.Mode().Perm())
	})
}
