// Package system installs, upgrades and removes servagent as a systemd
// service: the service user, the /opt/servagent layout, the .env file, the
// hardened unit, the optional sudoers rule and the certificate. Every path is
// resolved under Layout.Root, every command goes through Host and systemctl
// and journalctl through a systemd.Systemd, so the logic is unit-tested
// without root; test/systemd/run.sh proves it on a real systemd.
package system

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Fixed names of the installation. They are constants rather than flags
// because uninstall, update and tls setup must find what install made.
const (
	ServiceUser = "servagent"
	UnitName    = "servagent.service"
	InstallDir  = "/opt/servagent"
	UnitPath    = "/etc/systemd/system/" + UnitName
	SudoersPath = "/etc/sudoers.d/servagent"
	SymlinkPath = "/usr/local/bin/servagent"
	DefaultPort = 8765
	HTTPSPort   = 443
)

// Marker is written into every file install generates; uninstall only removes
// a unit or sudoers file that still carries it (never someone else's file).
const Marker = "Managed by servagent install"

// Layout maps the installation's paths onto a filesystem root. Root is "" on a
// real system and a temp dir in tests; the paths written into the unit and
// .env are always the unprefixed ones.
type Layout struct{ Root string }

// Path returns p (an absolute system path) under the layout's root.
func (l Layout) Path(p string) string {
	if l.Root == "" {
		return p
	}
	return filepath.Join(l.Root, p)
}

// Exists reports whether p (an absolute system path) exists under the
// layout's root.
func (l Layout) Exists(p string) bool { _, err := os.Stat(l.Path(p)); return err == nil }

// System paths (unprefixed).
var (
	BinPath      = filepath.Join(InstallDir, "bin", "servagent")
	EnvFile      = filepath.Join(InstallDir, ".env")
	SkillsDir    = filepath.Join(InstallDir, "skills")
	StateDir     = filepath.Join(InstallDir, "state")
	OAuthDBPath  = filepath.Join(StateDir, "oauth.db")
	ManifestPath = filepath.Join(InstallDir, ".servagent-install.json")
)

// Manifest records what install did that uninstall must undo or must not
// undo: a service user that existed before install is left in place.
type Manifest struct {
	CreatedUser bool   `json:"created_user"`
	FullAccess  bool   `json:"full_access"`
	Version     string `json:"version"`
	Domain      string `json:"domain,omitempty"`
}

// ReadManifest returns the manifest, or ok=false when there is none.
func (l Layout) ReadManifest() (m Manifest, ok bool, err error) {
	data, err := os.ReadFile(l.Path(ManifestPath))
	if errors.Is(err, fs.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, false, err
	}
	return m, true, nil
}
