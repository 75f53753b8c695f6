package tools

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestCopyFileAtomicWritesThroughSymlinkAndRespectsLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("new content"), 0o600)
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("old"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	out, err := CopyFileAtomic(context.Background(), src, link, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced by a file")
	}
	if b, _ := os.ReadFile(target); string(b) != "new content" || out.Path != target {
		t.Fatalf("target = %q, out %+v", b, out)
	}
	if _, err := CopyFileAtomic(context.Background(), src, filepath.Join(dir, "big"), true, 4); err == nil {
		t.Fatal("size limit not enforced")
	}
	if _, err := os.Stat(filepath.Join(dir, "big")); !os.IsNotExist(err) {
		t.Fatal("over-limit copy left a file")
	}
	if _, err := CopyFileAtomic(context.Background(), src, filepath.Join(dir, "no", "parent"), false, 0); err == nil {
		t.Fatal("create_dirs=false with a missing parent should fail")
	}
}
