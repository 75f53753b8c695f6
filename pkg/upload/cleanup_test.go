package upload

import (
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/servagent/servagent/pkg/userpath"
)

// A failed upload removes the directories it created, but only those: when
// another user swaps one of them for a symlink (here shared/a -> secret)
// before the cleanup, the cleanup must not remove secret/b, an empty
// directory servagent never made, through that link.
func TestFailedUploadCleanupIgnoresDirSwappedForLink(t *testing.T) {
	base := t.TempDir()
	os.Chmod(base, 0o755)
	shared := filepath.Join(base, "shared")
	os.Mkdir(shared, 0o755)
	os.Chmod(shared, 0o777) // world-writable, not sticky
	secret := filepath.Join(base, "secret")
	os.MkdirAll(filepath.Join(secret, "b"), 0o700)

	h := NewHandler(Handler{Paths: userpath.Resolver{WorkDir: base}, MaxSize: 1000})
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req := httptest.NewRequest("POST", "/upload", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(rec, req); close(done) }()
	defer pr.Close()

	mw.WriteField("path", filepath.Join(shared, "a/b/f"))
	fw, _ := mw.CreateFormFile("file", "f")
	go fw.Write([]byte("x"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(shared, "a/b")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the upload never created shared/a/b")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The other user swaps the directory servagent made for a symlink.
	if err := os.Rename(filepath.Join(shared, "a"), filepath.Join(shared, "a.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(shared, "a")); err != nil {
		t.Fatal(err)
	}
	go func() {
		fw.Write(make([]byte, 2000)) // exceeds MaxSize: 413 and cleanup
		mw.Close()
		pw.Close()
	}()
	<-done
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d %s, want 413", rec.Code, rec.Body.String())
	}
	if _, err := os.Stat(filepath.Join(secret, "b")); err != nil {
		t.Errorf("the cleanup removed %s, which it did not create: %v", filepath.Join(secret, "b"), err)
	}
	if fi, err := os.Lstat(filepath.Join(shared, "a")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the swapped-in link was touched: %v", err)
	}
	// What it did create (now a.old/b) is gone; a.old itself is not the
	// directory it made under that name, so it stays.
	if _, err := os.Lstat(filepath.Join(shared, "a.old", "b")); err == nil {
		t.Errorf("the directory servagent created (moved to a.old/b) was left behind")
	}
}
