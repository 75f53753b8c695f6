package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/servagent/servagent/internal/testutil/roottest"
	"github.com/servagent/servagent/pkg/server/servertest"
)

// part is one multipart field: a value, or the file when file is set.
type part struct {
	name, value string
	file        io.Reader
}

func fileField(r io.Reader) part        { return part{name: "file", file: r} }
func field(name, value string) part     { return part{name: name, value: value} }
func pathField(value string) part       { return field("path", value) }
func bodyOf(resp *http.Response) string { b, _ := io.ReadAll(resp.Body); return string(b) }
func zeros(n int64) io.Reader           { return io.LimitReader(zeroReader{}, n) }

// uploadParts sends the parts in the order given.
func uploadParts(t *testing.T, inst *servertest.Instance, parts ...part) *http.Response {
	t.Helper()
	return postMultipart(t, inst.URL, inst.Key, parts)
}

// postMultipart streams the parts, in order, to POST /upload with key.
func postMultipart(t *testing.T, url, key string, parts []part) *http.Response {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, p := range parts {
			if p.file == nil {
				mw.WriteField(p.name, p.value)
				continue
			}
			w, _ := mw.CreateFormFile(p.name, "f.bin")
			if _, err := io.Copy(w, p.file); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	req, _ := http.NewRequest("POST", url+"/upload", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	return send(t, req)
}

// noTempFiles fails when a temp file of ours is left anywhere under dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".servagent-") {
			t.Errorf("leftover temp file %s", p)
		}
		return nil
	})
}

func TestUploadFieldsInAnyOrder(t *testing.T) {
	spool := t.TempDir()
	inst := start(t, map[string]string{"SERVAGENT_UPLOAD_MAX_SIZE": "4194304", "SERVAGENT_STATE_DIR": spool})
	dir := inst.Config.WorkDir
	data := bytes.Repeat([]byte("file before path "), 100000) // 1.7 MB
	sum := sha256.Sum256(data)
	resp := uploadParts(t, inst, fileField(bytes.NewReader(data)), field("create_dirs", "true"), pathField("order/x.bin"))
	var r struct {
		Path         string `json:"path"`
		BytesWritten int64  `json:"bytes_written"`
		SHA256       string `json:"sha256"`
	}
	json.NewDecoder(resp.Body).Decode(&r)
	if resp.StatusCode != 200 || r.Path != filepath.Join(dir, "order/x.bin") || r.BytesWritten != int64(len(data)) || r.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("status %d result %+v", resp.StatusCode, r)
	}
	if got, _ := os.ReadFile(r.Path); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	// create_dirs=false is honoured wherever it comes, and what the request
	// created is gone.
	for name, parts := range map[string][]part{
		"file first":   {fileField(strings.NewReader("x")), pathField("nodir1/a/f"), field("create_dirs", "false")},
		"file between": {pathField("nodir2/a/f"), fileField(strings.NewReader("x")), field("create_dirs", "false")},
	} {
		resp := uploadParts(t, inst, parts...)
		if body := bodyOf(resp); resp.StatusCode != 400 || !strings.Contains(body, "create_dirs is false") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "order" {
		t.Errorf("work dir holds %v", entries)
	}
	if entries, _ := os.ReadDir(spool); len(entries) != 0 {
		t.Errorf("spool dir holds %v", entries)
	}
	noTempFiles(t, dir)
}

// The reference README's own example sends file before path.
func TestUploadCurlExampleOrder(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed: the test runs the README's curl command")
	}
	inst := start(t, nil)
	src := filepath.Join(t.TempDir(), "x")
	os.WriteFile(src, []byte("from curl"), 0o644)
	dest := filepath.Join(inst.Config.WorkDir, "opt/app/x")
	out, err := exec.Command("curl", "-sS", "--fail-with-body", "-H", "Authorization: Bearer "+inst.Key,
		"-F", "file=@"+src, "-F", "path="+dest, inst.URL+"/upload").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	if got, _ := os.ReadFile(dest); string(got) != "from curl" {
		t.Fatalf("dest = %q; curl said %s", got, out)
	}
}

func TestUploadTooLargeLeavesNothing(t *testing.T) {
	spool := t.TempDir()
	inst := start(t, map[string]string{"SERVAGENT_UPLOAD_MAX_SIZE": "1048576", "SERVAGENT_STATE_DIR": spool})
	dir := inst.Config.WorkDir
	os.WriteFile(filepath.Join(dir, "keep"), []byte("old"), 0o644)
	for name, parts := range map[string][]part{
		"path first, new dirs": {pathField("made/by/request/f"), fileField(zeros(3 << 20))},
		"file first, new dirs": {fileField(zeros(3 << 20)), pathField("made/by/request/f")},
		"path first, existing": {pathField("keep"), fileField(zeros(3 << 20))},
		"file first, existing": {fileField(zeros(3 << 20)), pathField("keep")},
	} {
		resp := uploadParts(t, inst, parts...)
		if body := bodyOf(resp); resp.StatusCode != 413 || !strings.Contains(body, "SERVAGENT_UPLOAD_MAX_SIZE") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "keep" {
		t.Errorf("work dir holds %v, want only keep (the directories the requests created are removed)", entries)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "keep")); string(b) != "old" {
		t.Errorf("keep = %q", b)
	}
	if entries, _ := os.ReadDir(spool); len(entries) != 0 {
		t.Errorf("spool dir holds %v", entries)
	}
}

func TestUploadFullDiskIs507(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a 1 MiB tmpfs as the full disk")
	}
	inst := start(t, map[string]string{"SERVAGENT_UPLOAD_MAX_SIZE": "8388608", "SERVAGENT_STATE_DIR": t.TempDir()})
	small := filepath.Join(inst.Config.WorkDir, "small")
	os.Mkdir(small, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s): the test needs a real full filesystem", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", small).Run() })
	os.WriteFile(filepath.Join(small, "keep"), []byte("old"), 0o644)
	for name, parts := range map[string][]part{
		"path first, new":      {pathField("small/big"), fileField(zeros(2 << 20))},
		"file first, new":      {fileField(zeros(2 << 20)), pathField("small/big")},
		"path first, existing": {pathField("small/keep"), fileField(zeros(2 << 20))},
		"file first, existing": {fileField(zeros(2 << 20)), pathField("small/keep")},
	} {
		resp := uploadParts(t, inst, parts...)
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		if resp.StatusCode != 507 || !strings.Contains(e.Error, "no space left") {
			t.Errorf("%s: %d %q, want 507 saying no space left", name, resp.StatusCode, e.Error)
		}
	}
	entries, _ := os.ReadDir(small)
	if len(entries) != 1 || entries[0].Name() != "keep" {
		t.Errorf("full disk holds %v", entries)
	}
	if b, _ := os.ReadFile(filepath.Join(small, "keep")); string(b) != "old" {
		t.Errorf("keep = %q", b)
	}
	var st syscall.Statfs_t
	if syscall.Statfs(small, &st); st.Bfree < st.Blocks-2 {
		t.Errorf("the failed uploads still hold %d of %d blocks", st.Blocks-st.Bfree, st.Blocks)
	}
}

func TestUploadSymlinkRuleAndSetuid(t *testing.T) {
	roottest.Need(t, "plants a symlink owned by nobody and a root setuid file")
	inst := start(t, nil)
	dir := inst.Config.WorkDir
	private := t.TempDir()
	secret := filepath.Join(private, "secret")
	os.WriteFile(secret, []byte("root only"), 0o600)
	shared := roottest.SharedDir(t, dir, "shared")
	link := filepath.Join(shared, "planted")
	roottest.SymlinkAs(t, secret, link, roottest.Nobody)
	for _, parts := range [][]part{
		{pathField(link), fileField(strings.NewReader("pwned"))},
		{fileField(strings.NewReader("pwned")), pathField(link)},
	} {
		resp := uploadParts(t, inst, parts...)
		if body := bodyOf(resp); resp.StatusCode != 400 || !strings.Contains(body, "protected_symlinks") {
			t.Errorf("planted symlink: %d %s", resp.StatusCode, body)
		}
	}
	if b, _ := os.ReadFile(secret); string(b) != "root only" {
		t.Fatalf("secret overwritten: %q", b)
	}
	suid := filepath.Join(dir, "tool")
	os.WriteFile(suid, []byte("old"), 0o755)
	os.Chmod(suid, 0o755|os.ModeSetuid|os.ModeSetgid)
	resp := uploadParts(t, inst, pathField(suid), fileField(strings.NewReader("new")))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, bodyOf(resp))
	}
	if fi, _ := os.Stat(suid); fi.Mode() != 0o755 {
		t.Errorf("mode after upload %v, want -rwxr-xr-x (setuid and setgid dropped)", fi.Mode())
	}
}
