package fsutil

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/servagent/servagent/internal/testutil/roottest"
)

// A directory another user made inside a sticky directory is theirs to
// fill: a symlink they plant there is not followed, although they own both
// the link and the directory (fs.protected_symlinks only looks at the
// immediate directory; servagent looks at the whole walk).
func TestSymlinkRuleCoversOtherUsersDirBelowSharedDir(t *testing.T) {
	needRoot(t)
	private := t.TempDir()
	victim := filepath.Join(private, "authorized_keys")
	os.WriteFile(victim, []byte("orig"), 0o600)
	build := filepath.Join(sharedDir(t), "build")
	os.Mkdir(build, 0o755)
	os.Chown(build, roottest.Nobody, roottest.Nobody)
	link := filepath.Join(build, "out.txt")
	roottest.SymlinkAs(t, victim, link, roottest.Nobody)

	_, err := Replace(link, Options{CreateDirs: true}, func(w io.Writer) error { _, err := w.Write([]byte("ATTACKER")); return err })
	if err == nil || !strings.Contains(err.Error(), "protected_symlinks") || !strings.Contains(err.Error(), "below a sticky or other-writable directory") {
		t.Errorf("write through %s: %v, want a refusal naming the rule", link, err)
	}
	if _, _, err := Open(link); err == nil {
		t.Errorf("Open followed %s", link)
	}
	if b, _ := os.ReadFile(victim); string(b) != "orig" {
		t.Fatalf("victim overwritten: %q", b)
	}

	// Root's own links there, and links in root's own dirs below the
	// shared one, are still followed.
	own := filepath.Join(private, "own")
	os.WriteFile(own, nil, 0o644)
	roottest.SymlinkAs(t, own, filepath.Join(build, "root-link"), 0)
	if err := WriteFile(filepath.Join(build, "root-link"), []byte("ok"), 0o644); err != nil {
		t.Errorf("root's link in the other user's dir: %v", err)
	}
	rootDir := filepath.Join(filepath.Dir(build), "rootdir")
	os.Mkdir(rootDir, 0o755)
	roottest.SymlinkAs(t, own, filepath.Join(rootDir, "l"), roottest.Nobody)
	if err := WriteFile(filepath.Join(rootDir, "l"), []byte("ok"), 0o644); err != nil {
		t.Errorf("link in root's 0755 dir below the shared dir: %v", err)
	}
}

// In a shared directory, a file another user pre-created is neither
// replaced nor appended to by root (fs.protected_regular), so root's
// content never lands in a file that user owns or picked.
func TestWritesRefuseOtherUsersFileInSharedDir(t *testing.T) {
	needRoot(t)
	shared := sharedDir(t)
	p := filepath.Join(shared, "db-password.txt")
	os.WriteFile(p, nil, 0o666)
	os.Chown(p, roottest.Nobody, roottest.Nobody)
	if err := WriteFile(p, []byte("s3cr3t"), 0o600); err == nil || !strings.Contains(err.Error(), "protected_regular") || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("replace: %v, want a refusal naming the rule and the owner", err)
	}
	f, _, err := OpenFile(p, os.O_WRONLY|os.O_APPEND, Options{})
	if err == nil {
		f.Close()
		t.Errorf("append to the other user's file was allowed")
	} else if !strings.Contains(err.Error(), "protected_regular") {
		t.Errorf("append: %v, want the protected_regular refusal", err)
	}
	if b, _ := os.ReadFile(p); len(b) != 0 {
		t.Fatalf("content landed in the other user's file: %q", b)
	}

	// Root's own file there, and any file in a directory that is not shared.
	mine := filepath.Join(shared, "mine")
	if err := WriteFile(mine, []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(mine, []byte("b"), 0o600); err != nil {
		t.Errorf("replacing root's own file in the shared dir: %v", err)
	}
	plain := filepath.Join(t.TempDir(), "theirs")
	os.WriteFile(plain, nil, 0o644)
	os.Chown(plain, roottest.Nobody, roottest.Nobody)
	if err := WriteFile(plain, []byte("c"), 0o644); err != nil {
		t.Errorf("replacing another user's file in root's own dir: %v", err)
	}
	var st syscall.Stat_t
	if syscall.Stat(plain, &st); st.Uid != roottest.Nobody {
		t.Errorf("owner of the replaced file: %d, want kept %d", st.Uid, roottest.Nobody)
	}
}

// RemoveAllAt removes a symlink inside the tree, never what it points to.
func TestRemoveAllAtNeverFollowsLinks(t *testing.T) {
	keep := t.TempDir()
	os.WriteFile(filepath.Join(keep, "precious"), []byte("p"), 0o600)
	base := t.TempDir()
	tree := filepath.Join(base, "tree")
	os.MkdirAll(filepath.Join(tree, "a", "b"), 0o755)
	os.Symlink(keep, filepath.Join(tree, "a", "b", "out"))
	os.WriteFile(filepath.Join(tree, "a", "f"), []byte("f"), 0o644)
	p, err := OpenParent(tree, false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := RemoveAllAt(p.Fd(), p.Name()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tree); err == nil {
		t.Error("tree still there")
	}
	if _, err := os.Stat(filepath.Join(keep, "precious")); err != nil {
		t.Errorf("a link inside the tree was followed: %v", err)
	}
}
