package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/system/systemtest"
	"github.com/servagent/servagent/pkg/systemd"
)

// fakeHost records commands and keeps a user table. visudo is the real one
// when installed, so the sudoers rule is checked by sudo's own parser.
type fakeHost struct {
	mu       sync.Mutex
	cmds     []string
	users    map[string][2]int
	fail     map[string]error // command line prefix -> error
	chowned  map[string][2]int
	nextUID  int
	realVisu bool
	// lookup, when set, answers LookupUser instead of the table.
	lookup func(name string) (int, int, bool, error)
}

func newFakeHost() *fakeHost {
	_, err := exec.LookPath("visudo")
	return &fakeHost{users: map[string][2]int{}, fail: map[string]error{}, chowned: map[string][2]int{}, nextUID: 990, realVisu: err == nil}
}

func (f *fakeHost) Run(ctx context.Context, name string, args ...string) (string, error) {
	f.mu.Lock()
	line := strings.Join(append([]string{name}, args...), " ")
	f.cmds = append(f.cmds, line)
	for p, err := range f.fail {
		if strings.HasPrefix(line, p) {
			f.mu.Unlock()
			return "simulated failure", err
		}
	}
	switch name {
	case "useradd":
		u := args[len(args)-1]
		f.users[u] = [2]int{f.nextUID, f.nextUID}
		f.nextUID++
	case "userdel":
		delete(f.users, args[len(args)-1])
	}
	f.mu.Unlock()
	if name == "visudo" && f.realVisu {
		return RealHost{}.Run(ctx, name, args...)
	}
	return "", nil
}

// systemd is a systemd.Systemd whose commands land in the same record,
// named by program, so the tests read one sequence of commands.
func (f *fakeHost) systemd() systemd.Systemd {
	return systemd.Systemd{Systemctl: "systemctl", Journalctl: "journalctl", Sudo: "sudo",
		Exec: func(ctx context.Context, argv, env []string) (string, error) {
			return f.Run(ctx, filepath.Base(argv[0]), argv[1:]...)
		}}
}

func (f *fakeHost) LookupUser(name string) (int, int, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lookup != nil {
		return f.lookup(name)
	}
	u, ok := f.users[name]
	return u[0], u[1], ok, nil
}

func (f *fakeHost) Chown(path string, uid, gid int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chowned[path] = [2]int{uid, gid}
	return nil
}

func (f *fakeHost) ran(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.cmds {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

var keyCounter int

func testInstall(t *testing.T, root string, h *fakeHost, mod func(*InstallOptions)) (*InstallResult, string, error) {
	t.Helper()
	self := filepath.Join(t.TempDir(), "servagent-build")
	if err := os.WriteFile(self, []byte("#!/bin/sh\necho fake\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := InstallOptions{Layout: Layout{Root: root}, Host: h, Systemd: h.systemd(), Out: &out, SelfPath: self, Version: "v1.2.3",
		Port: systemtest.HealthServer(t, "v1.2.3"), NewKey: func() string { keyCounter++; return "key-" + strconv.Itoa(keyCounter) }}
	if mod != nil {
		mod(&o)
	}
	res, err := Install(context.Background(), o)
	return res, out.String(), err
}

func readEnv(t *testing.T, root string) map[string]string {
	t.Helper()
	env, err := config.ReadEnvFile(filepath.Join(root, EnvFile))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestInstallFresh(t *testing.T) {
	root, h := t.TempDir(), newFakeHost()
	res, out, err := testInstall(t, root, h, nil)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	if res.NewAPIKey == "" || res.Upgrade || !res.Started || res.FullAccess {
		t.Fatalf("result = %+v", res)
	}
	if !h.ran("useradd --system --user-group --home-dir /opt/servagent --no-create-home --shell ") {
		t.Errorf("useradd not run as expected: %v", h.cmds)
	}
	for _, c := range []string{"systemctl daemon-reload", "systemctl enable --quiet servagent.service", "systemctl restart servagent.service"} {
		if !h.ran(c) {
			t.Errorf("%q not run: %v", c, h.cmds)
		}
	}
	env := readEnv(t, root)
	want := map[string]string{"SERVAGENT_API_KEY": res.NewAPIKey, "SERVAGENT_HOST": "0.0.0.0", "SERVAGENT_SKILLS_DIR": SkillsDir,
		"SERVAGENT_STATE_DIR": StateDir, "SERVAGENT_OAUTH_DB_PATH": OAuthDBPath}
	for k, v := range want {
		if env[k] != v {
			t.Errorf(".env %s = %q, want %q", k, env[k], v)
		}
	}
	if m := mode(t, filepath.Join(root, EnvFile)); m.Perm() != 0o600 {
		t.Errorf(".env mode %v", m)
	}
	if h.chowned[filepath.Join(root, EnvFile)] != [2]int{990, 990} {
		t.Errorf(".env not chowned to the service user: %v", h.chowned)
	}
	if m := mode(t, filepath.Join(root, BinPath)); m.Perm() != 0o755 {
		t.Errorf("binary mode %v", m)
	}
	if m := mode(t, filepath.Join(root, StateDir)); m.Perm() != 0o700 || !m.IsDir() {
		t.Errorf("state dir mode %v", m)
	}
	if m := mode(t, filepath.Join(root, SkillsDir)); m.Perm() != 0o700 || !m.IsDir() {
		t.Errorf("skills dir mode %v, want 0700 (skills hold secrets)", m)
	}
	if target, err := os.Readlink(filepath.Join(root, SymlinkPath)); err != nil || target != BinPath {
		t.Errorf("symlink = %q, %v", target, err)
	}
	unit, _ := os.ReadFile(filepath.Join(root, UnitPath))
	for _, line := range []string{"User=servagent", "NoNewPrivileges=true", "ProtectSystem=full", "CapabilityBoundingSet=\n", "ExecStart=/opt/servagent/bin/servagent serve --env-file /opt/servagent/.env"} {
		if !strings.Contains(string(unit), line) {
			t.Errorf("unit lacks %q:\n%s", line, unit)
		}
	}
	if strings.Contains(string(unit), "AmbientCapabilities") {
		t.Errorf("unit grants capabilities for port %s:\n%s", env["SERVAGENT_PORT"], unit)
	}
	if _, err := os.Stat(filepath.Join(root, SudoersPath)); err == nil {
		t.Error("sudoers file written without --full-access")
	}
	m, ok, err := Layout{root}.ReadManifest()
	if !ok || err != nil || !m.CreatedUser || m.Version != "v1.2.3" {
		t.Errorf("manifest = %+v, %v, %v", m, ok, err)
	}
	if strings.Contains(out, res.NewAPIKey) {
		t.Error("Install's progress output shows the key; only the CLI summary may, once")
	}
}

func TestInstallAgainKeepsKeyUnlessRotated(t *testing.T) {
	root, h := t.TempDir(), newFakeHost()
	first, _, err := testInstall(t, root, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	// An operator edit that a re-install must keep.
	if err := config.UpdateEnvFile(filepath.Join(root, EnvFile), map[string]string{"SERVAGENT_LOG_LEVEL": "DEBUG"}); err != nil {
		t.Fatal(err)
	}
	second, _, err := testInstall(t, root, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.NewAPIKey != "" || !second.Upgrade {
		t.Fatalf("second install: %+v", second)
	}
	env := readEnv(t, root)
	if env["SERVAGENT_API_KEY"] != first.NewAPIKey || env["SERVAGENT_LOG_LEVEL"] != "DEBUG" {
		t.Fatalf("second install changed .env: %v", env)
	}
	if n := strings.Count(strings.Join(h.cmds, "\n"), "useradd"); n != 1 {
		t.Errorf("useradd ran %d times", n)
	}
	third, _, err := testInstall(t, root, h, func(o *InstallOptions) { o.RotateKey = true })
	if err != nil {
		t.Fatal(err)
	}
	if third.NewAPIKey == "" || third.NewAPIKey == first.NewAPIKey || readEnv(t, root)["SERVAGENT_API_KEY"] != third.NewAPIKey {
		t.Fatalf("--rotate-key: result %+v, .env %v", third, readEnv(t, root))
	}
}

func TestInstallFullAccessAndBack(t *testing.T) {
	root, h := t.TempDir(), newFakeHost()
	yes, no := true, false
	if _, out, err := testInstall(t, root, h, func(o *InstallOptions) { o.FullAccess = &yes }); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	sp := filepath.Join(root, SudoersPath)
	data, err := os.ReadFile(sp)
	if err != nil || !strings.Contains(string(data), "servagent ALL=(ALL) NOPASSWD: ALL") {
		t.Fatalf("sudoers: %q %v", data, err)
	}
	if m := mode(t, sp); m.Perm() != 0o440 {
		t.Errorf("sudoers mode %v", m)
	}
	if !h.ran(fmt.Sprintf("visudo -cf /proc/%d/fd/", os.Getpid())) { // fsutil's unnamed temp file
		t.Errorf("sudoers not validated on the temp file before the rename: %v", h.cmds)
	}
	unit, _ := os.ReadFile(filepath.Join(root, UnitPath))
	for _, opt := range []string{"NoNewPrivileges", "RestrictSUIDSGID", "CapabilityBoundingSet", "ProtectSystem", "SystemCallFilter"} {
		if strings.Contains(string(unit), opt) {
			t.Errorf("full-access unit keeps %s, which stops sudo", opt)
		}
	}
	// Without the flag, the choice is kept.
	if _, _, err := testInstall(t, root, h, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sp); err != nil {
		t.Fatal("re-install without the flag dropped full access")
	}
	if _, _, err := testInstall(t, root, h, func(o *InstallOptions) { o.FullAccess = &no }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sp); err == nil {
		t.Fatal("--full-access=false left the sudoers file")
	}
	unit, _ = os.ReadFile(filepath.Join(root, UnitPath))
	if !strings.Contains(string(unit), "NoNewPrivileges=true") {
		t.Error("unit not hardened again")
	}
}

func TestSudoersRejectedIsNeverPlaced(t *testing.T) {
	root, h := t.TempDir(), newFakeHost()
	h.fail["visudo"] = fmt.Errorf("exit status 1")
	yes := true
	_, _, err := testInstall(t, root, h, func(o *InstallOptions) { o.FullAccess = &yes })
	if err == nil || !strings.Contains(err.Error(), "visudo rejected") {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "etc/sudoers.d"))
	if len(entries) != 0 {
		t.Fatalf("left in sudoers.d: %v", entries)
	}
}

func TestSudoersContentPassesVisudo(t *testing.T) {
	if _, err := exec.LookPath("visudo"); err != nil {
		t.Skip("visudo not installed (apt-get install sudo)")
	}
	p := filepath.Join(t.TempDir(), "servagent")
	if err := os.WriteFile(p, []byte(SudoersContent()), 0o440); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("visudo", "-cf", p).CombinedOutput(); err != nil {
		t.Fatalf("visudo -cf: %v\n%s", err, out)
	}
	// The check can fail: a broken rule is rejected.
	os.WriteFile(p, []byte("servagent ALL=(ALL) NOPASSWD: systemctl\n"), 0o440)
	if out, err := exec.Command("visudo", "-cf", p).CombinedOutput(); err == nil {
		t.Fatalf("visudo accepted a relative command:\n%s", out)
	}
}

func TestInstallUnhealthyReportsJournal(t *testing.T) {
	root, h := t.TempDir(), newFakeHost()
	_, _, err := testInstall(t, root, h, func(o *InstallOptions) {
		o.Version = "v9.9.9" // the health server says v1.2.3
		o.HealthTimeout = 500e6
	})
	if err == nil || !strings.Contains(err.Error(), "did not become healthy") || !h.ran("journalctl -u servagent.service -n 30") {
		t.Fatalf("err = %v, cmds %v", err, h.cmds)
	}
}

func TestInstallDomainWritesTLSAndCapabilities(t *testing.T) {
	root, h := t.TempDir(), newFakeHost()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, []byte("CA"), 0o644)
	ob := &fakeObtainer{}
	res, out, err := testInstall(t, root, h, func(o *InstallOptions) {
		o.Domain, o.Email, o.ACMEDirectory, o.ACMECAFile, o.Obtainer = "MCP.Example.com", "a@example.com", "https://acme.test/dir", ca, ob
		o.Port, o.NoStart, o.ACMEHTTPPort = 0, true, 5002
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if ob.req.Domain != "mcp.example.com" || ob.req.HTTPPort != 5002 || ob.req.StateDir != filepath.Join(root, StateDir) {
		t.Errorf("obtainer got %+v", ob.req)
	}
	env := readEnv(t, root)
	want := map[string]string{"SERVAGENT_PORT": "443", "SERVAGENT_ACME_DOMAIN": "mcp.example.com", "SERVAGENT_ACME_EMAIL": "a@example.com",
		"SERVAGENT_ACME_DIRECTORY": "https://acme.test/dir", "SERVAGENT_ACME_CA_FILE": StateDir + "/acme-ca.pem",
		"SERVAGENT_TLS_CERTFILE": StateDir + "/certs/mcp.example.com/fullchain.pem", "SERVAGENT_TLS_KEYFILE": StateDir + "/certs/mcp.example.com/privkey.pem"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf(".env %s = %q, want %q", k, env[k], v)
		}
	}
	if res.URL != "https://mcp.example.com/mcp" {
		t.Errorf("URL = %s", res.URL)
	}
	unit, _ := os.ReadFile(filepath.Join(root, UnitPath))
	if !strings.Contains(string(unit), "AmbientCapabilities=CAP_NET_BIND_SERVICE") || !strings.Contains(string(unit), "CapabilityBoundingSet=CAP_NET_BIND_SERVICE") {
		t.Errorf("unit cannot bind 443:\n%s", unit)
	}
	if h.ran("systemctl restart") {
		t.Error("--no-start restarted the service")
	}
	// Installing again with the same domain keeps the certificate.
	ob.calls = 0
	if _, _, err := testInstall(t, root, h, func(o *InstallOptions) {
		o.Domain, o.Obtainer, o.Port, o.NoStart = "mcp.example.com", ob, 0, true
	}); err != nil || ob.calls != 0 {
		t.Fatalf("re-install: err %v, obtain calls %d", err, ob.calls)
	}
}

type fakeObtainer struct {
	req   CertRequest
	calls int
}

func (f *fakeObtainer) Obtain(ctx context.Context, r CertRequest) (string, string, error) {
	f.req, f.calls = r, f.calls+1
	dir := filepath.Join(r.StateDir, "certs", r.Domain)
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "fullchain.pem"), []byte("cert"), 0o600)
	os.WriteFile(filepath.Join(dir, "privkey.pem"), []byte("key"), 0o600)
	return filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem"), nil
}

func TestUninstallRemovesOnlyWhatInstallMade(t *testing.T) {
	root, h := t.TempDir(), newFakeHost()
	if _, _, err := testInstall(t, root, h, func(o *InstallOptions) { yes := true; o.FullAccess = &yes }); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, StateDir, "certs", "x.example"), 0o700)
	os.WriteFile(filepath.Join(root, StateDir, "certs", "x.example", "privkey.pem"), []byte("k"), 0o600)
	os.MkdirAll(filepath.Join(root, StateDir, "acme"), 0o700)
	// Not ours: must survive.
	other := filepath.Join(root, "etc/sudoers.d/other")
	os.WriteFile(other, []byte("bob ALL=(ALL) ALL\n"), 0o440)
	p, err := PlanUninstall(Layout{root}, h)
	if err != nil || !p.Unit || !p.Sudoers || !p.Symlink || !p.InstallDir || !p.User {
		t.Fatalf("plan %+v %v", p, err)
	}
	var out bytes.Buffer
	if err := Uninstall(context.Background(), UninstallOptions{Layout: Layout{root}, Host: h, Systemd: h.systemd(), Out: &out, KeepCerts: true}, p); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{UnitPath, SudoersPath, SymlinkPath, InstallDir} {
		if _, err := os.Lstat(filepath.Join(root, path)); err == nil {
			t.Errorf("%s still there", path)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("uninstall removed a sudoers file it did not write")
	}
	if _, _, ok, _ := h.LookupUser(ServiceUser); ok {
		t.Error("user not removed")
	}
	kept, _ := filepath.Glob(filepath.Join(root, KeptCertsDir, "certs-*", "certs", "x.example", "privkey.pem"))
	if len(kept) != 1 || !strings.Contains(out.String(), KeptCertsDir) {
		t.Errorf("--keep-certs: kept %v, output:\n%s", kept, out.String())
	}
	p, err = PlanUninstall(Layout{root}, h)
	if err != nil || !p.Empty() {
		t.Fatalf("second plan %+v %v", p, err)
	}
}

func TestUninstallKeepsPreexistingUser(t *testing.T) {
	root, h := t.TempDir(), newFakeHost()
	h.users[ServiceUser] = [2]int{500, 500}
	if _, _, err := testInstall(t, root, h, nil); err != nil {
		t.Fatal(err)
	}
	p, err := PlanUninstall(Layout{root}, h)
	if err != nil || p.User || !p.InstallDir {
		t.Fatalf("plan %+v %v", p, err)
	}
	if err := Uninstall(context.Background(), UninstallOptions{Layout: Layout{root}, Host: h, Systemd: h.systemd(), Out: &bytes.Buffer{}}, p); err != nil {
		t.Fatal(err)
	}
	if h.ran("userdel") {
		t.Error("userdel ran on a user install did not create")
	}
}

func TestUnitVariantsPassSystemdAnalyzeVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed")
	}
	exe, err := os.Executable() // verify needs ExecStart to exist
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []UnitConfig{{}, {BindPrivileged: true, ReadWritePaths: []string{"/srv/www", "/home/site"}}, {FullAccess: true}, {FullAccess: true, BindPrivileged: true}} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			text, err := RenderUnit(c)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), UnitName)
			os.WriteFile(p, []byte(strings.ReplaceAll(text, BinPath, exe)), 0o644)
			cmd := exec.Command("systemd-analyze", "verify", p)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err = cmd.Run()
			if err != nil || stderr.Len() != 0 {
				t.Fatalf("systemd-analyze verify: %v\n%s\n%s", err, stderr.String(), text)
			}
			sec, _ := exec.Command("systemd-analyze", "security", "--offline=true", p).CombinedOutput()
			lines := strings.Split(strings.TrimSpace(string(sec)), "\n")
			t.Logf("exposure: %s", lines[len(lines)-1])
		})
	}
	// The check can fail: a bad value is reported on stderr with rc 0.
	p := filepath.Join(t.TempDir(), UnitName)
	os.WriteFile(p, []byte("[Service]\nExecStart="+exe+"\nNoNewPrivileges=maybe\n"), 0o644)
	var stderr bytes.Buffer
	cmd := exec.Command("systemd-analyze", "verify", p)
	cmd.Stderr = &stderr
	cmd.Run()
	if stderr.Len() == 0 {
		t.Fatal("systemd-analyze verify did not report a bad value: the check above proves nothing")
	}
}

func TestRenderUnitRejectsUnsafeReadWritePath(t *testing.T) {
	for _, p := range []string{"relative", "/a b", "/x%h", "/srv/www\rUser=root", "/x\x00", "/x\x1b[1m"} {
		if _, err := RenderUnit(UnitConfig{ReadWritePaths: []string{p}}); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
}

// TestInstallRefusesABadEnvValueBeforeChangingAnything: a value in the
// existing .env that the service would refuse (a port that is not a number)
// stops install with the variable's name, before the user, the files or the
// unit are touched; it was read as port 0 before.
func TestInstallRefusesABadEnvValueBeforeChangingAnything(t *testing.T) {
	root := t.TempDir()
	envPath := filepath.Join(root, EnvFile)
	if err := os.MkdirAll(filepath.Dir(envPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(envPath, []byte("SERVAGENT_ACME_HTTP_PORT=eighty\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newFakeHost()
	_, _, err := testInstall(t, root, h, func(o *InstallOptions) { o.Port = 0 })
	if err == nil || !strings.Contains(err.Error(), `invalid SERVAGENT_ACME_HTTP_PORT="eighty"`) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v, want one line naming SERVAGENT_ACME_HTTP_PORT", err)
	}
	if len(h.cmds) != 0 {
		t.Errorf("ran %v before refusing", h.cmds)
	}
	for _, p := range []string{BinPath, UnitPath, ManifestPath} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s was written before refusing", p)
		}
	}
}

// Every variant delegates a cgroup subtree (per-command cgroups) and none
// mounts the cgroup file system read-only over it.
func TestUnitDelegatesAWritableCgroup(t *testing.T) {
	for _, c := range []UnitConfig{{}, {BindPrivileged: true}, {FullAccess: true}} {
		text, err := RenderUnit(c)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, "\nDelegate=yes\n") || strings.Contains(text, "ProtectControlGroups=") {
			t.Errorf("%+v:\n%s", c, text)
		}
	}
}

// systemctlCalls are the recorded systemctl and journalctl command lines.
func (f *fakeHost) systemctlCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.cmds {
		if strings.HasPrefix(c, "systemctl ") || strings.HasPrefix(c, "journalctl ") {
			out = append(out, c)
		}
	}
	return out
}

// Uninstall stops and forgets the unit even when systemd says it was not
// running, but a failed daemon-reload stops it before anything else goes.
func TestUninstallSystemctlSequence(t *testing.T) {
	root, h := t.TempDir(), newFakeHost()
	if _, _, err := testInstall(t, root, h, func(o *InstallOptions) { o.NoStart = true }); err != nil {
		t.Fatal(err)
	}
	p, err := PlanUninstall(Layout{root}, h)
	if err != nil {
		t.Fatal(err)
	}
	h.cmds = nil
	h.fail["systemctl disable"] = fmt.Errorf("exit status 5")
	h.fail["systemctl reset-failed"] = fmt.Errorf("exit status 1")
	if err := Uninstall(context.Background(), UninstallOptions{Layout: Layout{root}, Host: h, Systemd: h.systemd(), Out: &bytes.Buffer{}}, p); err != nil {
		t.Fatal(err)
	}
	want := []string{"systemctl disable --now --quiet servagent.service", "systemctl daemon-reload", "systemctl reset-failed servagent.service"}
	if got := h.systemctlCalls(); !slices.Equal(got, want) {
		t.Errorf("systemctl calls %q, want %q", got, want)
	}

	root, h = t.TempDir(), newFakeHost()
	if _, _, err := testInstall(t, root, h, func(o *InstallOptions) { o.NoStart = true }); err != nil {
		t.Fatal(err)
	}
	p, _ = PlanUninstall(Layout{root}, h)
	h.fail["systemctl daemon-reload"] = fmt.Errorf("exit status 1")
	err = Uninstall(context.Background(), UninstallOptions{Layout: Layout{root}, Host: h, Systemd: h.systemd(), Out: &bytes.Buffer{}}, p)
	if err == nil || !strings.Contains(err.Error(), "systemctl daemon-reload: exit status 1: simulated failure") {
		t.Fatalf("failed daemon-reload: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, InstallDir)); err != nil {
		t.Errorf("the install dir went although daemon-reload failed: %v", err)
	}
}

// Restart clears a failed state first and does not let a refused
// reset-failed stop the restart; a failed restart carries systemctl's words.
func TestInstalledServiceRestart(t *testing.T) {
	h := newFakeHost()
	s := InstalledService{Layout: Layout{t.TempDir()}, Systemd: h.systemd()}
	h.fail["systemctl reset-failed"] = fmt.Errorf("exit status 1")
	if err := s.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := h.systemctlCalls(), []string{"systemctl reset-failed servagent.service", "systemctl restart servagent.service"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	h.fail["systemctl restart"] = fmt.Errorf("exit status 1")
	if err := s.Restart(context.Background()); err == nil || !strings.Contains(err.Error(), "systemctl restart servagent.service: exit status 1: simulated failure") {
		t.Errorf("failed restart: %v", err)
	}
}

// TestUserLookupFailuresKeepTheirCause: a failed lookup of the service user
// after useradd, or before tls setup, names the user and wraps the lookup's
// error; a user that is simply not there says so without a cause.
func TestUserLookupFailuresKeepTheirCause(t *testing.T) {
	boom := errors.New("nss unreachable")
	root, h := t.TempDir(), newFakeHost()
	calls := 0
	h.lookup = func(string) (int, int, bool, error) {
		if calls++; calls == 1 {
			return 0, 0, false, nil // not there yet: install runs useradd
		}
		return 0, 0, false, boom
	}
	if _, _, err := testInstall(t, root, h, nil); !errors.Is(err, boom) ||
		err.Error() != "user servagent not found after useradd: nss unreachable" {
		t.Errorf("install, lookup failing after useradd: %v", err)
	}
	h.lookup = func(string) (int, int, bool, error) { return 0, 0, false, nil }
	if _, _, err := testInstall(t, root, h, nil); err == nil || err.Error() != "user servagent not found after useradd" {
		t.Errorf("install, no user after useradd: %v", err)
	}

	h.lookup = nil
	if _, out, err := testInstall(t, root, h, nil); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	tlsOpts := TLSOptions{Layout: Layout{Root: root}, Host: h, Systemd: h.systemd(), Out: io.Discard, Domain: "mcp.example.com"}
	h.lookup = func(string) (int, int, bool, error) { return 0, 0, false, boom }
	if _, err := SetupTLS(t.Context(), tlsOpts); !errors.Is(err, boom) ||
		err.Error() != "user servagent missing (nss unreachable): run servagent install again" {
		t.Errorf("tls setup, lookup failing: %v", err)
	}
	h.lookup = func(string) (int, int, bool, error) { return 0, 0, false, nil }
	if _, err := SetupTLS(t.Context(), tlsOpts); err == nil || err.Error() != "user servagent missing: run servagent install again" {
		t.Errorf("tls setup, no user: %v", err)
	}
}
