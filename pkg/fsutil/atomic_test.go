package fsutil

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteFileKeepsModeOwnerAndSetuid(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("old"), 0o750)
	if os.Geteuid() == 0 {
		os.Chown(p, 1234, 5678)
	}
	os.Chmod(p, 0o750|os.ModeSetuid) // after chown, which clears it
	if err := WriteFile(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o750 || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("mode %v, want setuid 0750", fi.Mode())
	}
	if st := fi.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && (st.Uid != 1234 || st.Gid != 5678) {
		t.Errorf("owner %d:%d", st.Uid, st.Gid)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("content %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("leftover files: %v", entries)
	}
}

func TestResolveWriteTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, nil, 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	if got, fi, err := ResolveWriteTarget(link); err != nil || got != target || fi == nil {
		t.Errorf("symlink: %q %v", got, err)
	}
	if got, fi, err := ResolveWriteTarget(filepath.Join(dir, "new")); err != nil || fi != nil || got != filepath.Join(dir, "new") {
		t.Errorf("new file: %q %v", got, err)
	}
	fifo := filepath.Join(dir, "fifo")
	syscall.Mkfifo(fifo, 0o644)
	for _, p := range []string{dir, fifo, "/dev/null"} {
		if _, _, err := ResolveWriteTarget(p); err == nil {
			t.Errorf("%s accepted", p)
		}
	}
}
