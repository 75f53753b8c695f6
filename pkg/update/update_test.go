package update

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servagent/servagent/pkg/logtest"
	"github.com/servagent/servagent/pkg/system"
)

// Real servagent binaries stamped with different versions, built once.
var (
	buildOnce sync.Once
	builds    map[string][]byte
	buildErr  error
)

func servagentBuild(t *testing.T, version string) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds servagent binaries; skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "servagent-update-test")
		if err != nil {
			buildErr = err
			return
		}
		defer os.RemoveAll(dir)
		builds = map[string][]byte{}
		for _, v := range []string{"v1.0.0", "v1.1.0"} {
			out := filepath.Join(dir, v)
			cmd := exec.Command("go", "build", "-o", out, "-ldflags", "-X github.com/servagent/servagent/pkg/buildinfo.Version="+v, "github.com/servagent/servagent/cmd/servagent")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", v, err, b)
				return
			}
			if builds[v], err = os.ReadFile(out); err != nil {
				buildErr = err
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builds[version]
}

func tarGz(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		data []byte
	}{{"README.md", []byte("readme")}, {name, data}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// releaseServer plays the GitHub API and download host.
type releaseServer struct {
	*httptest.Server
	files     map[string][]byte // path -> content
	rels      []Release
	downloads atomic.Int32
}

func newReleaseServer(t *testing.T) *releaseServer {
	rs := &releaseServer{files: map[string][]byte{}}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/repos/servagent/servagent/releases" {
			json.NewEncoder(w).Encode(rs.rels)
			return
		}
		data, ok := rs.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(r.URL.Path, ".tar.gz") {
			rs.downloads.Add(1)
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data)
	}))
	t.Cleanup(rs.Close)
	return rs
}

// add publishes a release whose archive holds bin; badSum corrupts checksums.txt.
func (rs *releaseServer) add(t *testing.T, tag string, bin []byte, badSum bool) {
	archive := ArchiveName(tag, runtime.GOOS, runtime.GOARCH)
	data := tarGz(t, "servagent", bin)
	sum := sha256.Sum256(data)
	hexsum := hex.EncodeToString(sum[:])
	if badSum {
		hexsum = strings.Repeat("0", 64)
	}
	base := "/download/" + tag + "/"
	rs.files[base+archive] = data
	rs.files[base+"checksums.txt"] = []byte(fmt.Sprintf("%s  other_file.tar.gz\n%s  %s\n", strings.Repeat("a", 64), hexsum, archive))
	rs.rels = append(rs.rels, Release{TagName: tag, Assets: []Asset{
		{Name: archive, URL: rs.URL + base + archive},
		{Name: "checksums.txt", URL: rs.URL + base + "checksums.txt"},
	}})
}

// childService runs the installed binary as `servagent serve`, the way the
// systemd unit does, so restart and /healthz are the real ones.
type childService struct {
	t        *testing.T
	bin, env string
	port     int
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{} // closed when cmd has been waited for
	restarts int
	log      logtest.Buffer
}

func newChildService(t *testing.T, bin string) *childService {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	env := filepath.Join(dir, ".env")
	os.WriteFile(env, []byte(fmt.Sprintf("SERVAGENT_HOST=127.0.0.1\nSERVAGENT_PORT=%d\nSERVAGENT_API_KEY=test-key-0123456789abcdef\nSERVAGENT_STATE_DIR=%s\nSERVAGENT_SKILLS_DIR=%s\nSERVAGENT_OAUTH_DB_PATH=%s\n",
		port, filepath.Join(dir, "state"), filepath.Join(dir, "skills"), filepath.Join(dir, "state", "oauth.db"))), 0o600)
	s := &childService{t: t, bin: bin, env: env, port: port}
	t.Cleanup(s.stop)
	return s
}

func (s *childService) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(s.bin, "serve", "--env-file", s.env)
	cmd.Dir = filepath.Dir(s.env)
	cmd.Stdout, cmd.Stderr = &s.log, &s.log
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(s.exited)
	return nil
}

func (s *childService) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		select {
		case <-s.exited:
		case <-time.After(time.Second):
		}
	}
	s.cmd = nil
}

func (s *childService) Restart(ctx context.Context) error {
	s.stop()
	s.restarts++
	return s.start()
}

func (s *childService) Healthy(ctx context.Context, version string) error {
	_, err := system.WaitHealthy(ctx, &http.Client{Timeout: 2 * time.Second}, fmt.Sprintf("http://127.0.0.1:%d/healthz", s.port), version, 8*time.Second)
	return err
}

func (s *childService) version(t *testing.T) string {
	t.Helper()
	h, err := system.CheckHealth(context.Background(), &http.Client{Timeout: 2 * time.Second}, fmt.Sprintf("http://127.0.0.1:%d/healthz", s.port))
	if err != nil {
		t.Fatalf("service not healthy: %v\n%s", err, s.log.String())
	}
	return h.Version
}

// setup installs v1.0.0 at a temp "/opt/servagent/bin/servagent" and starts it.
func setup(t *testing.T) (bin string, svc *childService, rs *releaseServer) {
	t.Helper()
	bin = filepath.Join(t.TempDir(), "servagent")
	if err := os.WriteFile(bin, servagentBuild(t, "v1.0.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	svc = newChildService(t, bin)
	if err := svc.start(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Healthy(context.Background(), "v1.0.0"); err != nil {
		t.Fatalf("v1.0.0 did not start: %v\n%s", err, svc.log.String())
	}
	svc.restarts = 0
	return bin, svc, newReleaseServer(t)
}

func run(t *testing.T, rs *releaseServer, bin string, svc Service, mod func(*Options)) (*Result, string, error) {
	var out bytes.Buffer
	o := Options{BaseURL: rs.URL, CurrentVersion: "v1.0.0", BinaryPath: bin, Service: svc, Out: &out}
	if mod != nil {
		mod(&o)
	}
	res, err := Run(context.Background(), o)
	return res, out.String(), err
}

func TestUpdateHappyPath(t *testing.T) {
	bin, svc, rs := setup(t)
	rs.add(t, "v1.0.0", servagentBuild(t, "v1.0.0"), false)
	rs.add(t, "v1.1.0", servagentBuild(t, "v1.1.0"), false)
	var progress bytes.Buffer
	res, out, err := run(t, rs, bin, svc, func(o *Options) { o.Progress = &progress })
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, svc.log.String())
	}
	if !res.Updated || res.To != "v1.1.0" || svc.restarts != 1 {
		t.Fatalf("res %+v restarts %d", res, svc.restarts)
	}
	if v := svc.version(t); v != "v1.1.0" {
		t.Fatalf("service runs %s", v)
	}
	if got, _ := os.ReadFile(bin); !bytes.Equal(got, servagentBuild(t, "v1.1.0")) {
		t.Error("binary on disk is not v1.1.0")
	}
	if prev, _ := os.ReadFile(bin + ".prev"); !bytes.Equal(prev, servagentBuild(t, "v1.0.0")) {
		t.Error("servagent.prev is not the previous binary")
	}
	if !strings.Contains(progress.String(), "100%") {
		t.Errorf("no progress bar: %q", progress.String())
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(bin), ".servagent*"))
	if len(leftovers) != 0 {
		t.Errorf("temp files left: %v", leftovers)
	}
}

func TestUpdateChecksumMismatchLeavesBinary(t *testing.T) {
	bin, svc, rs := setup(t)
	rs.add(t, "v1.1.0", servagentBuild(t, "v1.1.0"), true)
	_, out, err := run(t, rs, bin, svc, nil)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(bin); !bytes.Equal(got, servagentBuild(t, "v1.0.0")) {
		t.Error("binary changed after a checksum mismatch")
	}
	if _, err := os.Stat(bin + ".prev"); err == nil {
		t.Error(".prev written after a checksum mismatch")
	}
	if svc.restarts != 0 || svc.version(t) != "v1.0.0" {
		t.Errorf("service touched: %d restarts", svc.restarts)
	}
}

func TestUpdateUnhealthyRollsBack(t *testing.T) {
	bin, svc, rs := setup(t)
	// A release whose binary starts but never serves /healthz.
	rs.add(t, "v1.2.0", []byte("#!/bin/sh\necho broken release >&2\nexit 1\n"), false)
	res, out, err := run(t, rs, bin, svc, nil)
	if !errors.Is(err, ErrRolledBack) || !res.RolledBack {
		t.Fatalf("err = %v res %+v\n%s", err, res, out)
	}
	if got, _ := os.ReadFile(bin); !bytes.Equal(got, servagentBuild(t, "v1.0.0")) {
		t.Error("the previous binary was not restored")
	}
	if v := svc.version(t); v != "v1.0.0" || svc.restarts != 2 {
		t.Errorf("after rollback the service runs %s (restarts %d)", v, svc.restarts)
	}
}

func TestUpdateAlreadyUpToDate(t *testing.T) {
	bin, svc, rs := setup(t)
	rs.add(t, "v0.9.0", []byte("old"), false)
	rs.add(t, "v1.0.0", servagentBuild(t, "v1.0.0"), false)
	rs.rels = append(rs.rels, Release{TagName: "v2.0.0-rc.1", Prerelease: true})
	res, _, err := run(t, rs, bin, svc, nil)
	if err != nil || res.Updated || res.Available || res.To != "v1.0.0" {
		t.Fatalf("res %+v err %v", res, err)
	}
	if svc.restarts != 0 || rs.downloads.Load() != 0 {
		t.Errorf("up to date but restarted %d times, downloaded %d archives", svc.restarts, rs.downloads.Load())
	}
	// --force reinstalls the same version.
	res, _, err = run(t, rs, bin, svc, func(o *Options) { o.Force = true })
	if err != nil || !res.Updated || svc.restarts != 1 {
		t.Fatalf("--force: res %+v err %v restarts %d", res, err, svc.restarts)
	}
}

func TestUpdateCheckOnlyReports(t *testing.T) {
	rs := newReleaseServer(t)
	rs.add(t, "v1.0.0", []byte("a"), false)
	rs.add(t, "v1.10.0", []byte("b"), false)
	rs.add(t, "v1.9.3", []byte("c"), false)
	bin := filepath.Join(t.TempDir(), "servagent")
	os.WriteFile(bin, []byte("current"), 0o755)
	res, _, err := run(t, rs, bin, nil, func(o *Options) { o.Check = true })
	if err != nil || !res.Available || res.To != "v1.10.0" {
		t.Fatalf("res %+v err %v", res, err)
	}
	if got, _ := os.ReadFile(bin); string(got) != "current" || rs.downloads.Load() != 0 {
		t.Error("--check changed something")
	}
	// A pinned version that does not exist is an error.
	if _, _, err := run(t, rs, bin, nil, func(o *Options) { o.Version = "v3.0.0" }); err == nil {
		t.Error("unknown --version accepted")
	}
	// An archive for another architecture is a clear error.
	_, _, err = run(t, rs, bin, nil, func(o *Options) { o.GOOS, o.GOARCH = "linux", "riscv64" })
	if err == nil || !strings.Contains(err.Error(), "servagent_1.10.0_linux_riscv64.tar.gz") {
		t.Errorf("err = %v", err)
	}
}

func TestCompare(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"v1.10.0", "v1.9.9", 1}, {"1.2.3", "v1.2.3", 0}, {"v1.2.3-rc.1", "v1.2.3", -1}, {"dev", "v0.0.1", -1}, {"v0.0.1", "dev", 1}} {
		if got := Compare(c.a, c.b); got != c.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
