package upload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/servagent/servagent/pkg/userpath"
)

// serve runs an upload and a download handler on loopback.
func serve(t *testing.T, up *Handler, down *Download) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/upload", up)
	mux.Handle("/download", down)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func post(t *testing.T, base, path, content string) int {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("path", path)
	fw, _ := mw.CreateFormFile("file", "f")
	io.WriteString(fw, content)
	mw.Close()
	resp, err := http.Post(base+"/upload", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func get(t *testing.T, base, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/download?path=" + url.QueryEscape(path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Handlers built without a logger serve and fail as usual, logging nowhere;
// with one, each request writes its line there.
func TestHandlersWithAndWithoutLogger(t *testing.T) {
	var logs bytes.Buffer
	for _, logger := range []*slog.Logger{nil, slog.New(slog.NewTextHandler(&logs, nil))} {
		dir := t.TempDir()
		base := serve(t, NewHandler(Handler{Paths: userpath.Resolver{WorkDir: dir}, MaxSize: 1 << 20, SpoolDir: dir, Logger: logger}),
			NewDownload(Download{Paths: userpath.Resolver{WorkDir: dir}, Logger: logger}))
		if code := post(t, base, "f", "data"); code != 200 {
			t.Fatalf("upload: %d", code)
		}
		if code := post(t, base, "missing/f\x00", "data"); code != 400 {
			t.Errorf("bad upload: %d", code)
		}
		if code, body := get(t, base, "f"); code != 200 || body != "data" {
			t.Errorf("download: %d %q", code, body)
		}
		if code, _ := get(t, base, "nope"); code != 404 {
			t.Errorf("missing download: %d", code)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "data" {
			t.Errorf("f = %q", b)
		}
	}
	for _, want := range []string{"msg=upload ", `msg="upload failed"`, "msg=download ", `msg="download refused"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

// A long path or Range of multi-byte runes is shortened in the log line
// without splitting a rune, and the line still says the full length.
func TestDownloadLogKeepsRunesWhole(t *testing.T) {
	var logs bytes.Buffer
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("data"), 0o644)
	d := NewDownload(Download{Paths: userpath.Resolver{WorkDir: dir}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	long := "/" + strings.Repeat("é", 600) // the 512-byte cut falls inside an é
	d.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/download?path="+url.QueryEscape(long), nil))
	req := httptest.NewRequest("GET", "/download?path=f", nil)
	req.Header.Set("Range", "bytes=1"+strings.Repeat("é", 40)) // the 64-byte cut too
	d.ServeHTTP(httptest.NewRecorder(), req)
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("want 2 log lines, got %d:\n%s", len(lines), logs.String())
	}
	for _, c := range []struct {
		value string
		total int
	}{{lines[0]["path"].(string), len(long)}, {lines[1]["range"].(string), len("bytes=1") + 80}} {
		suffix := fmt.Sprintf("…(%d bytes)", c.total)
		if !utf8.ValidString(c.value) || strings.ContainsRune(c.value, utf8.RuneError) || !strings.HasSuffix(c.value, suffix) {
			t.Errorf("logged %q, want whole runes then %q", c.value, suffix)
		}
	}
}
