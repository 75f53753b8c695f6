package server_test

import (
	"bytes"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/servagent/servagent/internal/testutil/roottest"
	"github.com/servagent/servagent/pkg/logtest"
	"github.com/servagent/servagent/pkg/server"
	"github.com/servagent/servagent/pkg/server/servertest"
)

func download(t *testing.T, inst *servertest.Instance, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, inst.URL+"/download?path="+url.QueryEscape(path), nil)
	req.Header.Set("Authorization", "Bearer "+inst.Key)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return send(t, req)
}

func TestDownload(t *testing.T) {
	var logs logtest.Buffer
	cfg := servertest.Config(t, nil)
	inst := servertest.Start(t, server.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	dir := cfg.WorkDir
	data := bytes.Repeat([]byte("0123456789"), 20000)
	p := filepath.Join(dir, "report ü \"q\".bin")
	os.WriteFile(p, data, 0o640)
	mtime := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	os.Chtimes(p, mtime, mtime)

	resp := download(t, inst, "GET", p, nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(body, data) || resp.ContentLength != int64(len(data)) {
		t.Fatalf("GET: %d, %d bytes, length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
	if lm, _ := http.ParseTime(resp.Header.Get("Last-Modified")); !lm.Equal(mtime) {
		t.Errorf("Last-Modified %q", resp.Header.Get("Last-Modified"))
	}
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if err != nil || params["filename"] != filepath.Base(p) {
		t.Errorf("Content-Disposition %q: %v %v", resp.Header.Get("Content-Disposition"), params, err)
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("ETag %q, Content-Type %q", etag, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(logs.String(), "msg=download") || !strings.Contains(logs.String(), "status=200") || !strings.Contains(logs.String(), "bytes=200000") {
		t.Errorf("no audit line for the download:\n%s", logs.String())
	}

	resp = download(t, inst, "GET", p, map[string]string{"Range": "bytes=10-19"})
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 206 || string(b) != "0123456789" || resp.Header.Get("Content-Range") != "bytes 10-19/200000" {
		t.Errorf("range: %d %q %q", resp.StatusCode, b, resp.Header.Get("Content-Range"))
	}
	if resp = download(t, inst, "GET", p, map[string]string{"Range": "bytes=300000-"}); resp.StatusCode != 416 {
		t.Errorf("bad range: %d", resp.StatusCode)
	}
	if resp = download(t, inst, "GET", p, map[string]string{"If-None-Match": etag}); resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
	resp = download(t, inst, "HEAD", p, nil)
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != int64(len(data)) {
		t.Errorf("HEAD: %d, %d bytes, length %d", resp.StatusCode, len(b), resp.ContentLength)
	}
	// Relative paths are taken from the work directory, as for /upload.
	os.WriteFile(filepath.Join(dir, "rel"), []byte("r"), 0o644)
	if resp = download(t, inst, "GET", "rel", nil); bodyOf(resp) != "r" {
		t.Errorf("relative path: %d", resp.StatusCode)
	}
}

func TestDownloadRefusals(t *testing.T) {
	inst := start(t, nil)
	dir := inst.Config.WorkDir
	fifo := filepath.Join(dir, "fifo")
	syscall.Mkfifo(fifo, 0o644)
	cases := map[string]struct {
		path string
		code int
		want string
	}{
		"directory":      {dir, 400, "directory"},
		"missing":        {filepath.Join(dir, "nope"), 404, "not exist"},
		"missing parent": {filepath.Join(dir, "no/such/file"), 404, "not exist"},
		"fifo":           {fifo, 400, "FIFO"},
		"no path":        {"", 400, "?path="},
	}
	if os.Geteuid() == 0 {
		dev := filepath.Join(dir, "zero")
		if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, 1<<8|5); err != nil {
			t.Fatal(err)
		}
		cases["device"] = struct {
			path string
			code int
			want string
		}{dev, 400, "device"}
		shared := roottest.SharedDir(t, dir, "shared")
		secret := filepath.Join(t.TempDir(), "secret")
		os.WriteFile(secret, []byte("root only"), 0o600)
		link := filepath.Join(shared, "planted")
		roottest.SymlinkAs(t, secret, link, roottest.Nobody)
		cases["planted symlink"] = struct {
			path string
			code int
			want string
		}{link, 403, "protected_symlinks"}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			done := make(chan struct{})
			var resp *http.Response
			go func() { defer close(done); resp = download(t, inst, "GET", c.path, nil) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the download blocked")
			}
			if body := bodyOf(resp); resp.StatusCode != c.code || !strings.Contains(body, c.want) || strings.Contains(body, "root only") {
				t.Errorf("%d %s, want %d containing %q", resp.StatusCode, body, c.code, c.want)
			}
		})
	}
	req, _ := http.NewRequest("POST", inst.URL+"/download?path="+url.QueryEscape(fifo), nil)
	req.Header.Set("Authorization", "Bearer "+inst.Key)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	resp, err := http.Get(inst.URL + "/download?path=" + url.QueryEscape(filepath.Join(dir, "x")))
	if err != nil || resp.StatusCode != 401 {
		t.Errorf("without a key: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// The README's example: curl -OJ saves the file under its own name.
func TestDownloadCurlOJ(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed: the test runs the README's curl -OJ command")
	}
	inst := start(t, nil)
	src := filepath.Join(inst.Config.WorkDir, "backup.tar.gz")
	os.WriteFile(src, []byte("archive"), 0o644)
	out := t.TempDir()
	cmd := exec.Command("curl", "-sS", "--fail-with-body", "-OJ", "-H", "Authorization: Bearer "+inst.Key,
		inst.URL+"/download?path="+url.QueryEscape(src))
	cmd.Dir = out
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("curl: %v: %s", err, b)
	}
	if got, err := os.ReadFile(filepath.Join(out, "backup.tar.gz")); err != nil || string(got) != "archive" {
		t.Fatalf("saved file: %q %v", got, err)
	}
}
