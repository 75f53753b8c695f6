package roottest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Need skips exactly when the test does not run as root, with its reason.
func TestNeed(t *testing.T) {
	var skipped bool
	t.Run("probe", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Need(t, "the probe")
	})
	if root := os.Geteuid() == 0; skipped == root {
		t.Errorf("euid %d: skipped = %v", os.Geteuid(), skipped)
	}
}

func TestSharedDirAndSymlinkAs(t *testing.T) {
	Need(t, "gives the link to uid 65534")
	d := SharedDir(t, t.TempDir(), "shared")
	fi, err := os.Stat(d)
	if err != nil || fi.Mode()&os.ModePerm != 0o777 || fi.Mode()&os.ModeSticky == 0 || !fi.IsDir() {
		t.Fatalf("shared dir: %v %v, want a sticky 0777 directory", fi.Mode(), err)
	}
	link := filepath.Join(d, "planted")
	SymlinkAs(t, "/etc/shadow", link, Nobody)
	li, err := os.Lstat(link)
	if err != nil || li.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("planted link: %v %v", li, err)
	}
	if st := li.Sys().(*syscall.Stat_t); st.Uid != Nobody || st.Gid != Nobody {
		t.Errorf("link owned by %d:%d, want %d:%d", st.Uid, st.Gid, Nobody, Nobody)
	}
	if target, _ := os.Readlink(link); target != "/etc/shadow" {
		t.Errorf("link points to %q", target)
	}
}
