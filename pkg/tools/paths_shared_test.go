package tools

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/servagent/servagent/internal/testutil/roottest"
)

// These tests play another local user (uid 65534) who can write to a
// shared directory, or owns a directory a source lives in, against root's
// move_path, copy_path and delete_path.

// plantedLink makes base/shared (1777, like /tmp), base/secret (root 0700)
// and shared/evil -> secret, a symlink owned by uid 65534.
func plantedLink(t *testing.T) (link, secret string) {
	t.Helper()
	roottest.Need(t, "the planted link belongs to uid 65534")
	base := t.TempDir()
	os.Chmod(base, 0o755)
	shared := roottest.SharedDir(t, base, "shared")
	secret = filepath.Join(base, "secret")
	os.Mkdir(secret, 0o700)
	link = filepath.Join(shared, "evil")
	roottest.SymlinkAs(t, secret, link, roottest.Nobody)
	return link, secret
}

func TestMovePathRefusesLinkPlantedInSharedDir(t *testing.T) {
	t.Parallel()
	link, secret := plantedLink(t)
	env := newTestEnv(t)
	src := filepath.Join(t.TempDir(), "payload")
	os.WriteFile(src, []byte("moved"), 0o644)
	toolError(t, callTool(t, env, "move_path", map[string]any{"source": src, "destination": link + "/cronjob"}), "protected_symlinks", "uid 65534")
	if pathExists(filepath.Join(secret, "cronjob")) {
		t.Error("move_path followed the planted symlink into the root-only directory")
	}
	if !pathExists(src) {
		t.Error("the refused move lost its source")
	}
}

func TestCopyPathRefusesLinkPlantedInSharedDir(t *testing.T) {
	t.Parallel()
	link, secret := plantedLink(t)
	env := newTestEnv(t)
	src := filepath.Join(t.TempDir(), "payload")
	os.WriteFile(src, []byte("copied"), 0o644)
	toolError(t, callTool(t, env, "copy_path", map[string]any{"source": src, "destination": link + "/sub/copied"}), "protected_symlinks")
	if pathExists(filepath.Join(secret, "sub")) {
		t.Error("copy_path created directories through the planted symlink")
	}

	sd := t.TempDir()
	os.WriteFile(filepath.Join(sd, "f"), []byte("d"), 0o644)
	os.Symlink("f", filepath.Join(sd, "l"))
	toolError(t, callTool(t, env, "copy_path", map[string]any{"source": sd, "destination": link + "/dircopy"}), "protected_symlinks")
	toolError(t, callTool(t, env, "copy_path", map[string]any{"source": filepath.Join(sd, "l"), "destination": link + "/linkcopy"}), "protected_symlinks")
	entries, _ := os.ReadDir(secret)
	if len(entries) != 0 {
		t.Errorf("copy_path wrote into the root-only directory: %v", entries)
	}
}

func TestDeletePathRefusesLinkPlantedInSharedDir(t *testing.T) {
	t.Parallel()
	link, secret := plantedLink(t)
	env := newTestEnv(t)
	victim := filepath.Join(secret, "victim")
	os.WriteFile(victim, []byte("v"), 0o600)
	os.Mkdir(filepath.Join(secret, "tree"), 0o700)
	os.WriteFile(filepath.Join(secret, "tree", "f"), []byte("v"), 0o600)
	toolError(t, callTool(t, env, "delete_path", map[string]any{"path": link + "/victim"}), "protected_symlinks")
	toolError(t, callTool(t, env, "delete_path", map[string]any{"path": link + "/tree", "recursive": true}), "protected_symlinks")
	if !pathExists(victim) || !pathExists(filepath.Join(secret, "tree", "f")) {
		t.Error("delete_path followed the planted symlink and removed root's files")
	}
	// The link itself may go: that deletes nothing of root's.
	callTool(t, env, "delete_path", map[string]any{"path": link})
	if pathExists(link) || !pathExists(victim) {
		t.Errorf("deleting the link itself: link left %v, target kept %v", pathExists(link), pathExists(victim))
	}
}

// A recursive delete removes a symlink inside the tree, never what it
// points to.
func TestDeletePathRecursiveNeverFollowsLinksInside(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	keep := t.TempDir()
	os.WriteFile(filepath.Join(keep, "precious"), []byte("p"), 0o600)
	tree := filepath.Join(t.TempDir(), "tree")
	os.MkdirAll(filepath.Join(tree, "a", "b"), 0o755)
	os.Symlink(keep, filepath.Join(tree, "a", "b", "out"))
	os.Symlink(filepath.Join(keep, "precious"), filepath.Join(tree, "file-link"))
	if res := callTool(t, env, "delete_path", map[string]any{"path": tree, "recursive": true}); res.IsError {
		t.Fatal(resultText(res))
	}
	if pathExists(tree) {
		t.Error("tree still there")
	}
	if !pathExists(filepath.Join(keep, "precious")) {
		t.Error("recursive delete followed a symlink inside the tree")
	}
}

// swapper keeps replacing src (in a directory uid 65534 owns) with a
// harmless file or with another entry made by mk, until the test ends.
func swapper(t *testing.T, adir, src string, mk func(tmp string)) {
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			tmpF := filepath.Join(adir, "f")
			os.WriteFile(tmpF, []byte("ATTACKER"), 0o755)
			os.Chown(tmpF, roottest.Nobody, roottest.Nobody)
			os.Rename(tmpF, src)
			tmpX := filepath.Join(adir, "x")
			os.Remove(tmpX)
			mk(tmpX)
			os.Rename(tmpX, src)
		}
	}()
	t.Cleanup(func() { stop.Store(true); <-done })
}

// raceCalls calls tool (copy_path or move_path) n times from src to a
// fresh dst while a swapper replaces src, and fails at the first result
// that unsafe describes (given dst's lstat and content); refused calls are
// fine.
func raceCalls(t *testing.T, env *Env, tool string, n int, src, dst string, unsafe func(fi os.FileInfo, content []byte) string) {
	t.Helper()
	for i := 0; i < n; i++ {
		os.Remove(dst)
		if res := callTool(t, env, tool, map[string]any{"source": src, "destination": dst}); res.IsError {
			continue
		}
		fi, err := os.Lstat(dst)
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(dst)
		if msg := unsafe(fi, b); msg != "" {
			t.Fatalf("%s call %d: %s", tool, i, msg)
		}
	}
}

// attackerDir makes base (0755 root) with base/attacker owned by uid 65534
// and base/shadow, a root 0600 secret.
func attackerDir(t *testing.T) (base, adir, secret string) {
	t.Helper()
	roottest.Need(t, "the attacker's directory belongs to uid 65534")
	base = t.TempDir()
	os.Chmod(base, 0o755)
	adir = filepath.Join(base, "attacker")
	os.Mkdir(adir, 0o755)
	os.Chown(adir, roottest.Nobody, roottest.Nobody)
	secret = filepath.Join(base, "shadow")
	os.WriteFile(secret, []byte("ROOT-SECRET"), 0o600)
	return base, adir, secret
}

// The source is checked with lstat; a symlink swapped in before it is
// opened must not be followed (that copied root's 0600 secret as 0644).
func TestCopyPathSourceSwappedForLinkNeverCopiesTarget(t *testing.T) {
	t.Parallel()
	_, adir, secret := attackerDir(t)
	env := newTestEnv(t)
	src := filepath.Join(adir, "notes")
	swapper(t, adir, src, func(tmp string) {
		os.Symlink(secret, tmp)
		os.Lchown(tmp, roottest.Nobody, roottest.Nobody)
	})
	raceCalls(t, env, "copy_path", 300, src, filepath.Join(t.TempDir(), "copy"), func(fi os.FileInfo, b []byte) string {
		if fi.Mode().IsRegular() && string(b) == "ROOT-SECRET" {
			return fmt.Sprintf("copy_path copied the target of a swapped-in symlink (mode %v)", fi.Mode())
		}
		return ""
	})
}

func TestMovePathAcrossFilesystemsSourceSwappedForLink(t *testing.T) {
	t.Parallel()
	base, adir, secret := attackerDir(t)
	dstDir := otherFS(t, base)
	env := newTestEnv(t)
	src := filepath.Join(adir, "notes")
	swapper(t, adir, src, func(tmp string) {
		os.Symlink(secret, tmp)
		os.Lchown(tmp, roottest.Nobody, roottest.Nobody)
	})
	raceCalls(t, env, "move_path", 300, src, filepath.Join(dstDir, "moved"), func(fi os.FileInfo, b []byte) string {
		if fi.Mode().IsRegular() && string(b) == "ROOT-SECRET" {
			return fmt.Sprintf("the secret came out as a regular file (mode %v uid %d)", fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
		}
		return ""
	})
	if b, err := os.ReadFile(secret); err != nil || string(b) != "ROOT-SECRET" {
		t.Errorf("the secret itself changed: %q %v", b, err)
	}
}

// lstat sees a hard link to a root setuid program, open gets the
// attacker's file: the copy must never be setuid with the attacker's code.
func TestCopyPathSetuidSwapNeverYieldsSetuidAttackerCode(t *testing.T) {
	t.Parallel()
	base, adir, _ := attackerDir(t)
	env := newTestEnv(t)
	suid := filepath.Join(base, "passwd")
	os.WriteFile(suid, []byte("REAL-PASSWD"), 0o755)
	os.Chmod(suid, 0o755|os.ModeSetuid)
	src := filepath.Join(adir, "tool")
	swapper(t, adir, src, func(tmp string) { os.Link(suid, tmp) })
	raceCalls(t, env, "copy_path", 400, src, filepath.Join(t.TempDir(), "tool"), func(fi os.FileInfo, b []byte) string {
		if string(b) == "ATTACKER" && fi.Mode()&os.ModeSetuid != 0 {
			return fmt.Sprintf("setuid copy with the attacker's content (mode %v uid %d)", fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
		}
		return ""
	})
}

// write_file and an append into a file another user pre-created in a
// shared directory are refused (fs.protected_regular), so root's secret
// never ends up in a file that user owns.
func TestWriteFileRefusesOtherUsersFileInSharedDir(t *testing.T) {
	t.Parallel()
	link, _ := plantedLink(t)
	env := newTestEnv(t)
	shared := filepath.Dir(link)
	for _, name := range []string{"db-password.txt", "appended"} {
		p := filepath.Join(shared, name)
		os.WriteFile(p, nil, 0o666)
		os.Chown(p, roottest.Nobody, roottest.Nobody)
	}
	toolError(t, callTool(t, env, "write_file", map[string]any{"path": filepath.Join(shared, "db-password.txt"), "content": "s3cr3t"}), "protected_regular", "uid 65534")
	toolError(t, callTool(t, env, "write_file_binary", map[string]any{"path": filepath.Join(shared, "appended"), "content_base64": "c2VjcmV0", "append": true}), "protected_regular")
	for _, name := range []string{"db-password.txt", "appended"} {
		if b, _ := os.ReadFile(filepath.Join(shared, name)); len(b) != 0 {
			t.Errorf("%s got root's content: %q", name, b)
		}
	}
}

// A symlink that the owner of a directory inside a sticky directory
// planted there is not followed either.
func TestWriteFileRefusesLinkInOtherUsersDirBelowSharedDir(t *testing.T) {
	t.Parallel()
	link, secret := plantedLink(t)
	env := newTestEnv(t)
	victim := filepath.Join(secret, "authorized_keys")
	os.WriteFile(victim, []byte("orig"), 0o600)
	d := filepath.Join(filepath.Dir(link), "build")
	os.Mkdir(d, 0o755)
	os.Chown(d, roottest.Nobody, roottest.Nobody)
	l := filepath.Join(d, "out.txt")
	os.Symlink(victim, l)
	os.Lchown(l, roottest.Nobody, roottest.Nobody)
	toolError(t, callTool(t, env, "write_file", map[string]any{"path": l, "content": "ssh-ed25519 ATTACKER", "create_dirs": true}), "protected_symlinks")
	toolError(t, callTool(t, env, "delete_path", map[string]any{"path": l + "/x"}), "protected_symlinks")
	if b, _ := os.ReadFile(victim); string(b) != "orig" {
		t.Errorf("victim clobbered: %q", b)
	}
}

// upload_file reads its source under the symlink rule: a link planted in
// a shared directory does not hand root's secret to a copy, and a FIFO
// source is refused instead of blocking the call.
func TestUploadFileSourceFollowsSymlinkRule(t *testing.T) {
	t.Parallel()
	link, secret := plantedLink(t)
	env := newTestEnv(t)
	os.WriteFile(filepath.Join(secret, "shadow"), []byte("ROOT-SECRET"), 0o600)
	dst := filepath.Join(t.TempDir(), "copy")
	toolError(t, callTool(t, env, "upload_file", map[string]any{"source_path": link + "/shadow", "destination_path": dst}), "protected_symlinks")
	if pathExists(dst) {
		t.Error("upload_file copied the secret through the planted link")
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	toolError(t, callTool(t, env, "upload_file", map[string]any{"source_path": fifo, "destination_path": dst}), "FIFO")
}
