// Package distpkg tells whether a file belongs to a distribution package
// (.deb or .rpm), so `servagent update` can leave a packaged binary to apt or
// dnf instead of replacing it behind the package manager's back.
package distpkg

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

// Owner is the package that owns a file.
type Owner struct {
	Manager string // "dpkg" or "rpm"
	Package string
}

// UpgradeCommand is the command that upgrades the package.
func (o Owner) UpgradeCommand() string {
	if o.Manager == "rpm" {
		return "sudo dnf upgrade " + o.Package
	}
	return "sudo apt-get update && sudo apt-get install --only-upgrade " + o.Package
}

// OwnerOf asks dpkg, then rpm, which package owns path. ok is false when
// neither knows it (or neither is installed).
func OwnerOf(ctx context.Context, path string) (Owner, bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "dpkg-query", "-S", path).Output(); err == nil {
		// "servagent: /usr/bin/servagent" (or "pkg1, pkg2: path").
		if name, _, ok := strings.Cut(strings.TrimSpace(string(out)), ":"); ok && !strings.Contains(name, "diversion") {
			name, _, _ = strings.Cut(name, ",")
			return Owner{Manager: "dpkg", Package: strings.TrimSpace(name)}, true
		}
	}
	if _, err := exec.LookPath("rpm"); err == nil {
		// rpm -qf exits 0 with the package name, 1 when not owned.
		if out, err := exec.CommandContext(ctx, "rpm", "-qf", "--queryformat", "%{NAME}", path).Output(); err == nil && len(out) > 0 {
			return Owner{Manager: "rpm", Package: strings.TrimSpace(string(out))}, true
		}
	}
	return Owner{}, false
}

// PackagePath is where the .deb and .rpm put the binary.
const PackagePath = "/usr/bin/servagent"

// Servagent reports the package servagent was installed from: the owner of
// the running binary, else of PackagePath (the service's copy in
// /opt/servagent is made from it by `servagent setup` or install).
func Servagent(ctx context.Context, executable string) (Owner, bool) {
	for _, p := range []string{executable, PackagePath} {
		if p == "" {
			continue
		}
		if o, ok := OwnerOf(ctx, p); ok {
			return o, true
		}
	}
	return Owner{}, false
}
