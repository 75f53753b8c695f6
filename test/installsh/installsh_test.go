// Package installsh tests the remote one-liner install.sh against a local
// server playing GitHub's API and release downloads. The archive holds a
// stand-in `servagent` that records the arguments it was run with.
package installsh

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const fakeBinary = `#!/bin/sh
printf '%s\n' "$@" > "$SERVAGENT_TEST_ARGS"
exit 0
`

func archive(t *testing.T) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{"servagent": fakeBinary, "LICENSE": "x"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

type server struct {
	*httptest.Server
	mu   sync.Mutex
	hits []string
}

// newServer publishes v1.4.0 (latest) and v1.3.0 for amd64 and arm64; badSum
// corrupts the amd64 checksum of v1.4.0.
func newServer(t *testing.T, badSum bool) *server {
	files := map[string][]byte{"/api/repos/servagent/servagent/releases/latest": []byte(`{"url":"x","tag_name": "v1.4.0","name":"v1.4.0"}`)}
	for _, v := range []string{"1.3.0", "1.4.0"} {
		var sums strings.Builder
		for _, arch := range []string{"amd64", "arm64"} {
			name := fmt.Sprintf("servagent_%s_linux_%s.tar.gz", v, arch)
			data := archive(t)
			files["/dl/v"+v+"/"+name] = data
			sum := sha256.Sum256(data)
			hexsum := hex.EncodeToString(sum[:])
			if badSum && v == "1.4.0" && arch == "amd64" {
				hexsum = strings.Repeat("f", 64)
			}
			fmt.Fprintf(&sums, "%s  %s\n", hexsum, name)
		}
		files["/dl/v"+v+"/checksums.txt"] = []byte(sums.String())
	}
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits = append(s.hits, r.URL.Path)
		s.mu.Unlock()
		if data, ok := files[r.URL.Path]; ok {
			w.Write(data)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) hit(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.hits {
		if h == path {
			return true
		}
	}
	return false
}

// run executes install.sh the way `curl … | sudo sh -s -- ARGS` does: the
// script on stdin of sh.
func run(t *testing.T, s *server, env []string, args ...string) (out string, argsFile string, err error) {
	t.Helper()
	script, rerr := os.ReadFile("../../install.sh")
	if rerr != nil {
		t.Fatal(rerr)
	}
	argsFile = filepath.Join(t.TempDir(), "args")
	cmd := exec.Command("sh", append([]string{"-s", "--"}, args...)...)
	cmd.Stdin = bytes.NewReader(script)
	cmd.Env = append(os.Environ(), "SERVAGENT_UPDATE_URL="+s.URL+"/api", "SERVAGENT_DOWNLOAD_URL="+s.URL+"/dl",
		"SERVAGENT_UNAME_S=Linux", "SERVAGENT_UNAME_M=x86_64", "SERVAGENT_TEST_ARGS="+argsFile)
	cmd.Env = append(cmd.Env, env...)
	b, err := cmd.CombinedOutput()
	return string(b), argsFile, err
}

func TestInstallLatestPassesArguments(t *testing.T) {
	s := newServer(t, false)
	out, argsFile, err := run(t, s, nil, "--full-access", "example.com")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got, _ := os.ReadFile(argsFile)
	if string(got) != "install\n--full-access\nexample.com\n" {
		t.Fatalf("servagent ran with %q\n%s", got, out)
	}
	if !s.hit("/dl/v1.4.0/servagent_1.4.0_linux_amd64.tar.gz") || !strings.Contains(out, "checksum OK") {
		t.Fatalf("latest amd64 archive not fetched: %v\n%s", s.hits, out)
	}
}

func TestPinnedVersionAndArm64(t *testing.T) {
	s := newServer(t, false)
	out, argsFile, err := run(t, s, []string{"SERVAGENT_UNAME_M=aarch64"}, "--version", "1.3.0", "--yes")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !s.hit("/dl/v1.3.0/servagent_1.3.0_linux_arm64.tar.gz") || s.hit("/api/repos/servagent/servagent/releases/latest") {
		t.Fatalf("hits %v", s.hits)
	}
	if got, _ := os.ReadFile(argsFile); string(got) != "install\n--yes\n" {
		t.Fatalf("servagent ran with %q", got)
	}
}

func TestChecksumMismatchRunsNothing(t *testing.T) {
	s := newServer(t, true)
	out, argsFile, err := run(t, s, nil, "--yes")
	if err == nil || !strings.Contains(out, "checksum mismatch for servagent_1.4.0_linux_amd64.tar.gz") {
		t.Fatalf("err %v\n%s", err, out)
	}
	if _, err := os.Stat(argsFile); err == nil {
		t.Fatal("servagent ran despite the checksum mismatch")
	}
}

func TestUnsupportedPlatform(t *testing.T) {
	s := newServer(t, false)
	for env, want := range map[string]string{
		"SERVAGENT_UNAME_M=riscv64": "unsupported architecture: riscv64",
		"SERVAGENT_UNAME_M=i686":    "unsupported architecture: i686",
		"SERVAGENT_UNAME_S=Darwin":  "unsupported operating system: Darwin",
	} {
		out, argsFile, err := run(t, s, []string{env})
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("%s: err %v\n%s", env, err, out)
		}
		if _, err := os.Stat(argsFile); err == nil {
			t.Errorf("%s: servagent ran", env)
		}
	}
	if len(s.hits) != 0 {
		t.Errorf("downloaded on an unsupported platform: %v", s.hits)
	}
}

func TestMissingReleaseFailsClearly(t *testing.T) {
	s := newServer(t, false)
	out, _, err := run(t, s, nil, "--version", "v9.9.9")
	if err == nil || !strings.Contains(out, "download failed") {
		t.Fatalf("err %v\n%s", err, out)
	}
}
