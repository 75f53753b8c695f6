package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIsDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	os.Symlink(dir, filepath.Join(dir, "to-dir"))
	os.Symlink(file, filepath.Join(dir, "to-file"))
	os.Symlink(filepath.Join(dir, "absent"), filepath.Join(dir, "dangling"))
	for name, want := range map[string]bool{"": true, "f": false, "to-dir": true, "to-file": false, "dangling": false, "absent": false} {
		if got := IsDir(filepath.Join(dir, name)); got != want {
			t.Errorf("IsDir(%q) = %v, want %v", name, got, want)
		}
	}
}
