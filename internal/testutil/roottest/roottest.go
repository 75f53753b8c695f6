// Package roottest is for the tests that need root: the ones that give
// files to another local user (uid 65534, nobody) and check what
// servagent, running as root, does with them.
package roottest

import (
	"os"
	"path/filepath"
	"testing"
)

// Nobody is the uid and gid of the other user those tests play.
const Nobody = 65534

// Need skips the test unless it runs as root; why says what root is for,
// so the skip tells a reader what was not tested.
func Need(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
}

// SharedDir makes dir/name a sticky directory anyone may write to (1777,
// like /tmp): where another user plants links for root to follow.
func SharedDir(t testing.TB, dir, name string) string {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	// Chmod, not Mkdir's mode: the umask would clear bits. (0o1777 would not
	// do: os.FileMode spells the sticky bit os.ModeSticky.)
	if err := os.Chmod(d, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	return d
}

// SymlinkAs makes link, pointing to target, and gives it to uid: a link
// that user planted (uid Nobody needs root).
func SymlinkAs(t testing.TB, target, link string, uid int) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, uid, uid); err != nil {
		t.Fatal(err)
	}
}
