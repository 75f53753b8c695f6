package upload

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// An unreadable file is 403. The handler runs on a thread whose filesystem
// uid is nobody's, so the kernel itself answers EACCES (root would read it).
func TestDownloadUnreadableIs403(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to take nobody's filesystem identity on one thread")
	}
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir makes both levels 0700
	os.Chmod(dir, 0o755)
	p := filepath.Join(dir, "private")
	os.WriteFile(p, []byte("root only"), 0o600)
	os.WriteFile(filepath.Join(dir, "public"), []byte("anyone"), 0o644)
	serveAsNobody := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread() // never unlocked: the thread exits with its changed identity
			unix.Setfsuid(65534)
			unix.Setfsgid(65534)
			NewDownload(Download{}).ServeHTTP(rec, httptest.NewRequest("GET", "/download?path="+url.QueryEscape(path), nil))
		}()
		<-done
		return rec
	}
	if rec := serveAsNobody(filepath.Join(dir, "public")); rec.Code != 200 || rec.Body.String() != "anyone" {
		t.Fatalf("readable file as nobody: %d %s", rec.Code, rec.Body)
	}
	rec := serveAsNobody(p)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "permission denied") || strings.Contains(rec.Body.String(), "root only") {
		t.Fatalf("unreadable file: %d %s", rec.Code, rec.Body)
	}
}

// A path the kernel cannot resolve (a symlink loop, a name too long, a file
// used as a directory) is the
// client's error, 400, not a server failure.
func TestDownloadUnresolvablePathIs400(t *testing.T) {
	dir := t.TempDir()
	os.Symlink("b", filepath.Join(dir, "a"))
	os.Symlink("a", filepath.Join(dir, "b"))
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	for _, p := range []string{filepath.Join(dir, "a"), filepath.Join(dir, strings.Repeat("n", 300)), filepath.Join(dir, "file", "x")} {
		rec := httptest.NewRecorder()
		NewDownload(Download{}).ServeHTTP(rec, httptest.NewRequest("GET", "/download?path="+url.QueryEscape(p), nil))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", p[len(dir):], rec.Code, rec.Body)
		}
	}
}
