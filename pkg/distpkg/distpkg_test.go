package distpkg

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestOwnerOf(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("dpkg-query missing: not a Debian-based system")
	}
	// dpkg-query itself belongs to the dpkg package.
	self, err := exec.LookPath("dpkg-query")
	if err != nil {
		t.Fatal(err)
	}
	if real, err := filepath.EvalSymlinks(self); err == nil {
		self = real
	}
	o, ok := OwnerOf(context.Background(), self)
	if !ok || o.Manager != "dpkg" || o.Package != "dpkg" {
		t.Fatalf("OwnerOf(%s) = %+v, %v; want dpkg/dpkg", self, o, ok)
	}
	if got := o.UpgradeCommand(); got != "sudo apt-get update && sudo apt-get install --only-upgrade dpkg" {
		t.Errorf("UpgradeCommand = %q", got)
	}
	f := filepath.Join(t.TempDir(), "servagent")
	if err := os.WriteFile(f, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if o, ok := OwnerOf(context.Background(), f); ok {
		t.Errorf("a temp file is owned by %+v", o)
	}
	if got := (Owner{Manager: "rpm", Package: "servagent"}).UpgradeCommand(); got != "sudo dnf upgrade servagent" {
		t.Errorf("rpm UpgradeCommand = %q", got)
	}
}
