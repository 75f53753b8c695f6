package tools

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/servagent/servagent/internal/testutil/roottest"
)

func mustRead(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func pathExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// otherFS returns a temp dir on a different filesystem than dir (/dev/shm),
// or skips the test.
func otherFS(t *testing.T, dir string) string {
	t.Helper()
	var a, b syscall.Stat_t
	if err := syscall.Stat(dir, &a); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat("/dev/shm", &b); err != nil {
		t.Skipf("no /dev/shm to test cross-filesystem copies: %v", err)
	}
	if a.Dev == b.Dev {
		t.Skip("/dev/shm and the temp dir are on the same filesystem; cannot test the EXDEV path")
	}
	d, err := os.MkdirTemp("/dev/shm", "servagent-test-")
	if err != nil {
		t.Skipf("cannot write to /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// sampleTree builds src/{file.txt 0640 with an old mtime, sub/inner.sh 0755,
// sub/link -> ../file.txt} and returns the mtime used.
func sampleTree(t *testing.T, src string) time.Time {
	t.Helper()
	mkTree(t, src, map[string]string{"file.txt": "data", "sub/inner.sh": "#!/bin/sh\n"})
	os.Chmod(filepath.Join(src, "file.txt"), 0o640)
	os.Chmod(filepath.Join(src, "sub/inner.sh"), 0o755)
	os.Symlink("../file.txt", filepath.Join(src, "sub/link"))
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(filepath.Join(src, "file.txt"), old, old)
	os.Chtimes(filepath.Join(src, "sub"), old, old)
	os.Chmod(filepath.Join(src, "sub"), 0o750)
	return old
}

func checkTree(t *testing.T, dst string, mtime time.Time) {
	t.Helper()
	if mustRead(t, filepath.Join(dst, "file.txt")) != "data" || mustRead(t, filepath.Join(dst, "sub/inner.sh")) != "#!/bin/sh\n" {
		t.Fatal("contents differ")
	}
	fi, _ := os.Stat(filepath.Join(dst, "file.txt"))
	if fi.Mode().Perm() != 0o640 || !fi.ModTime().Equal(mtime) {
		t.Fatalf("file.txt mode %v mtime %v", fi.Mode(), fi.ModTime())
	}
	if fi, _ := os.Stat(filepath.Join(dst, "sub/inner.sh")); fi.Mode().Perm() != 0o755 {
		t.Fatalf("inner.sh mode %v", fi.Mode())
	}
	if fi, _ := os.Stat(filepath.Join(dst, "sub")); fi.Mode().Perm() != 0o750 || !fi.ModTime().Equal(mtime) {
		t.Fatalf("sub mode %v mtime %v", fi.Mode(), fi.ModTime())
	}
	if target, err := os.Readlink(filepath.Join(dst, "sub/link")); err != nil || target != "../file.txt" {
		t.Fatalf("symlink not copied as a link: %q %v", target, err)
	}
}

func TestMovePath(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	w := env.WorkDir
	t.Run("rename file and dir", func(t *testing.T) {
		t.Parallel()
		mkTree(t, w, map[string]string{"m/a.txt": "a"})
		out := structured[MovePathOutput](t, callTool(t, env, "move_path", map[string]any{"source": "m/a.txt", "destination": "m/new/b.txt"}))
		if out.Method != "rename" || out.Type != "file" || mustRead(t, filepath.Join(w, "m/new/b.txt")) != "a" || pathExists(filepath.Join(w, "m/a.txt")) {
			t.Fatalf("unexpected %+v", out)
		}
		out = structured[MovePathOutput](t, callTool(t, env, "move_path", map[string]any{"source": "m", "destination": "m2"}))
		if out.Type != "dir" || !pathExists(filepath.Join(w, "m2/new/b.txt")) {
			t.Fatalf("unexpected %+v", out)
		}
	})
	t.Run("file over file", func(t *testing.T) {
		t.Parallel()
		mkTree(t, w, map[string]string{"x.txt": "x", "y.txt": "y"})
		out := structured[MovePathOutput](t, callTool(t, env, "move_path", map[string]any{"source": "x.txt", "destination": "y.txt"}))
		if !out.Overwrote || mustRead(t, filepath.Join(w, "y.txt")) != "x" {
			t.Fatalf("unexpected %+v", out)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		t.Parallel()
		mkTree(t, w, map[string]string{"d1/f": "f", "d2/g": "g", "file": "z"})
		toolError(t, callTool(t, env, "move_path", map[string]any{"source": "file", "destination": "d1"}), "existing directory", filepath.Join(w, "d1/file"))
		toolError(t, callTool(t, env, "move_path", map[string]any{"source": "d1", "destination": "d2"}), "existing directory")
		toolError(t, callTool(t, env, "move_path", map[string]any{"source": "d1", "destination": "file"}), "not a directory")
		toolError(t, callTool(t, env, "move_path", map[string]any{"source": "d1", "destination": "d1/sub/d1"}), "into itself")
		toolError(t, callTool(t, env, "move_path", map[string]any{"source": "d1", "destination": "./d1"}), "same path")
		toolError(t, callTool(t, env, "move_path", map[string]any{"source": "missing", "destination": "x"}), "does not exist")
		toolError(t, callTool(t, env, "move_path", map[string]any{"source": "/etc", "destination": filepath.Join(w, "etc")}), "refusing to move /etc")
		// A symlink to a directory is not replaced by a file (think /bin -> usr/bin).
		os.Symlink("d2", filepath.Join(w, "d2link"))
		toolError(t, callTool(t, env, "move_path", map[string]any{"source": "file", "destination": "d2link"}), "existing directory")
		if fi, err := os.Lstat(filepath.Join(w, "d2link")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatal("the symlink to a directory was replaced")
		}
		if !pathExists(filepath.Join(w, "d1/f")) || !pathExists(filepath.Join(w, "d2/g")) || mustRead(t, filepath.Join(w, "file")) != "z" {
			t.Fatal("a refused move changed something")
		}
	})
	t.Run("across filesystems", func(t *testing.T) {
		t.Parallel()
		shm := otherFS(t, w)
		src := filepath.Join(w, "tree")
		mtime := sampleTree(t, src)
		if os.Geteuid() == 0 {
			os.Lchown(filepath.Join(src, "sub/inner.sh"), 1234, 5678)
		}
		dst := filepath.Join(shm, "moved")
		out := structured[MovePathOutput](t, callTool(t, env, "move_path", map[string]any{"source": src, "destination": dst}))
		if out.Method != "copy+delete" || pathExists(src) {
			t.Fatalf("unexpected %+v (source still there: %v)", out, pathExists(src))
		}
		checkTree(t, dst, mtime)
		if fi, _ := os.Lstat(filepath.Join(dst, "sub/inner.sh")); os.Geteuid() == 0 && fi.Sys().(*syscall.Stat_t).Uid != 1234 {
			t.Fatal("a move across filesystems lost the owner")
		}
		// And a single file back.
		out = structured[MovePathOutput](t, callTool(t, env, "move_path", map[string]any{"source": filepath.Join(dst, "file.txt"), "destination": filepath.Join(w, "back.txt")}))
		if out.Method != "copy+delete" || mustRead(t, filepath.Join(w, "back.txt")) != "data" || pathExists(filepath.Join(dst, "file.txt")) {
			t.Fatalf("unexpected %+v", out)
		}
	})
}

func TestCopyPath(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	w := env.WorkDir
	src := filepath.Join(w, "src")
	mtime := sampleTree(t, src)
	// Subtests stay in order: the refusals need the copies made before them.
	t.Run("directory", func(t *testing.T) {
		out := structured[CopyPathOutput](t, callTool(t, env, "copy_path", map[string]any{"source": "src", "destination": "copy"}))
		if out.Files != 2 || out.Dirs != 2 || out.Symlinks != 1 || out.Bytes != 14 {
			t.Fatalf("unexpected %+v", out)
		}
		checkTree(t, filepath.Join(w, "copy"), mtime)
		checkTree(t, src, mtime) // source untouched
	})
	t.Run("file and symlink", func(t *testing.T) {
		out := structured[CopyPathOutput](t, callTool(t, env, "copy_path", map[string]any{"source": "src/file.txt", "destination": "single.txt"}))
		fi, _ := os.Stat(filepath.Join(w, "single.txt"))
		if out.Files != 1 || fi.Mode().Perm() != 0o640 || !fi.ModTime().Equal(mtime) {
			t.Fatalf("unexpected %+v, mode %v", out, fi.Mode())
		}
		structured[CopyPathOutput](t, callTool(t, env, "copy_path", map[string]any{"source": "src/sub/link", "destination": "src/link2"}))
		if target, _ := os.Readlink(filepath.Join(w, "src/link2")); target != "../file.txt" {
			t.Fatalf("link target %q", target)
		}
		os.Remove(filepath.Join(w, "src/link2"))
		// A file copied onto a symlink lands in the link's target.
		os.WriteFile(filepath.Join(w, "tgt.txt"), []byte("old"), 0o600)
		os.Symlink("tgt.txt", filepath.Join(w, "tgtlink"))
		structured[CopyPathOutput](t, callTool(t, env, "copy_path", map[string]any{"source": "src/file.txt", "destination": "tgtlink"}))
		if fi, _ := os.Lstat(filepath.Join(w, "tgtlink")); fi.Mode()&os.ModeSymlink == 0 || mustRead(t, filepath.Join(w, "tgt.txt")) != "data" {
			t.Fatal("copy onto a symlink replaced the link instead of writing its target")
		}
		out = structured[CopyPathOutput](t, callTool(t, env, "copy_path", map[string]any{"source": "src/sub/inner.sh", "destination": "single.txt"}))
		if !out.Overwrote || mustRead(t, filepath.Join(w, "single.txt")) != "#!/bin/sh\n" {
			t.Fatalf("unexpected %+v", out)
		}
	})
	t.Run("special files skipped", func(t *testing.T) {
		d := filepath.Join(w, "withfifo")
		mkTree(t, d, map[string]string{"f": "f"})
		if err := syscall.Mkfifo(filepath.Join(d, "pipe"), 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		out := structured[CopyPathOutput](t, callTool(t, env, "copy_path", map[string]any{"source": d, "destination": "fifocopy"}))
		if len(out.Skipped) != 1 || out.Files != 1 || pathExists(filepath.Join(w, "fifocopy/pipe")) {
			t.Fatalf("unexpected %+v", out)
		}
		toolError(t, callTool(t, env, "copy_path", map[string]any{"source": filepath.Join(d, "pipe"), "destination": "p2"}), "special file")
	})
	t.Run("refusals", func(t *testing.T) {
		toolError(t, callTool(t, env, "copy_path", map[string]any{"source": "src", "destination": "src/sub/again"}), "into itself")
		toolError(t, callTool(t, env, "copy_path", map[string]any{"source": "src", "destination": "src"}), "same path")
		os.Symlink("src/sub", filepath.Join(w, "sublink"))
		toolError(t, callTool(t, env, "copy_path", map[string]any{"source": "src", "destination": "sublink/x"}), "into itself")
		toolError(t, callTool(t, env, "copy_path", map[string]any{"source": "src", "destination": "copy"}), "existing directory")
		toolError(t, callTool(t, env, "copy_path", map[string]any{"source": "src/file.txt", "destination": "copy"}), "existing directory", filepath.Join(w, "copy/file.txt"))
		toolError(t, callTool(t, env, "copy_path", map[string]any{"source": "src", "destination": "single.txt"}), "not a directory")
		toolError(t, callTool(t, env, "copy_path", map[string]any{"source": "nope", "destination": "x"}), "does not exist")
		if pathExists(filepath.Join(w, "src/sub/again")) {
			t.Fatal("refused copy created something")
		}
	})
	t.Run("across filesystems", func(t *testing.T) {
		shm := otherFS(t, w)
		dst := filepath.Join(shm, "copy")
		structured[CopyPathOutput](t, callTool(t, env, "copy_path", map[string]any{"source": src, "destination": dst}))
		checkTree(t, dst, mtime)
		structured[CopyPathOutput](t, callTool(t, env, "copy_path", map[string]any{"source": dst, "destination": filepath.Join(w, "roundtrip")}))
		checkTree(t, filepath.Join(w, "roundtrip"), mtime)
	})
}

func TestDeletePath(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	w := env.WorkDir
	t.Run("file, symlink, dirs", func(t *testing.T) {
		t.Parallel()
		mkTree(t, w, map[string]string{"f.txt": "f", "empty/": "", "full/a/b": "b", "target/keep": "k"})
		out := structured[DeletePathOutput](t, callTool(t, env, "delete_path", map[string]any{"path": "f.txt"}))
		if out.Type != "file" || pathExists(filepath.Join(w, "f.txt")) {
			t.Fatalf("unexpected %+v", out)
		}
		os.Symlink("target", filepath.Join(w, "dirlink"))
		out = structured[DeletePathOutput](t, callTool(t, env, "delete_path", map[string]any{"path": "dirlink", "recursive": true}))
		if out.Type != "symlink" || pathExists(filepath.Join(w, "dirlink")) || !pathExists(filepath.Join(w, "target/keep")) {
			t.Fatalf("symlink delete touched the target: %+v", out)
		}
		structured[DeletePathOutput](t, callTool(t, env, "delete_path", map[string]any{"path": "empty"}))
		toolError(t, callTool(t, env, "delete_path", map[string]any{"path": "full"}), "non-empty", "recursive=true")
		if !pathExists(filepath.Join(w, "full/a/b")) {
			t.Fatal("non-recursive delete removed content")
		}
		structured[DeletePathOutput](t, callTool(t, env, "delete_path", map[string]any{"path": "full", "recursive": true}))
		if pathExists(filepath.Join(w, "full")) {
			t.Fatal("recursive delete left the dir")
		}
		toolError(t, callTool(t, env, "delete_path", map[string]any{"path": "full"}), "does not exist")
	})
	t.Run("protected paths", func(t *testing.T) {
		t.Parallel()
		os.Symlink("/", filepath.Join(w, "rootlink"))
		for _, p := range []string{"/", "/etc", "/tmp/..", "/tmp/../", "/usr/../etc", "/lib", "/usr/bin", "rootlink/etc", w, w + "/", filepath.Dir(w), "."} {
			toolError(t, callTool(t, env, "delete_path", map[string]any{"path": p, "recursive": true}), "refusing to delete")
		}
		if !pathExists("/etc") || !pathExists(w) {
			t.Fatal("a protected path was deleted")
		}
	})
}

// TestCopyDropsSetuidOfAnotherOwner: root copying another user's setuid
// program must not create a setuid-root program; a move keeps owner and bits.
func TestCopyDropsSetuidOfAnotherOwner(t *testing.T) {
	t.Parallel()
	roottest.Need(t, "chowns the source to another user")
	env := newTestEnv(t)
	src := filepath.Join(env.WorkDir, "prog")
	os.WriteFile(src, []byte("#!/bin/sh\n"), 0o755)
	os.Chown(src, 1000, 1000)
	os.Chmod(src, 0o755|os.ModeSetuid)
	dir := filepath.Join(env.WorkDir, "tree")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "inner"), []byte("x"), 0o755)
	os.Chown(filepath.Join(dir, "inner"), 1000, 1000)
	os.Chmod(filepath.Join(dir, "inner"), 0o755|os.ModeSetuid|os.ModeSetgid)

	for _, c := range []struct{ from, to, check string }{
		{src, "copy", "copy"},
		{dir, "treecopy", "treecopy/inner"},
	} {
		res := callTool(t, env, "copy_path", map[string]any{"source": c.from, "destination": c.to})
		if res.IsError {
			t.Fatalf("copy_path: %s", resultText(res))
		}
		fi, err := os.Stat(filepath.Join(env.WorkDir, c.check))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
			t.Errorf("%s kept setuid/setgid while now owned by root: %v", c.check, fi.Mode())
		}
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("%s mode %v", c.check, fi.Mode().Perm())
		}
	}
	res := callTool(t, env, "move_path", map[string]any{"source": src, "destination": "moved"})
	if res.IsError {
		t.Fatalf("move_path: %s", resultText(res))
	}
	fi, _ := os.Stat(filepath.Join(env.WorkDir, "moved"))
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode()&os.ModeSetuid == 0 || st.Uid != 1000 {
		t.Errorf("move lost owner or setuid: %v uid %d", fi.Mode(), st.Uid)
	}
}
