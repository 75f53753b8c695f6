package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/internal/testutil/roottest"
	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/logtest"
	"github.com/servagent/servagent/pkg/server"
	"github.com/servagent/servagent/pkg/server/servertest"
	"github.com/servagent/servagent/pkg/tools"
)

// buildServagent builds the real binary once per test.
func buildServagent(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "servagent")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/servagent").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestServeBinaryLeavesNoSecretInItsEnvironment starts the real binary with
// its secrets in the environment (as a systemd EnvironmentFile= or a shell
// export would) and reads /proc/<pid>/environ, which the tools can read too:
// no secret may be there, while the key still authenticates, a command sees
// none of them, the pid is the one that was started (systemd's main pid) and
// SIGTERM still ends it with status 0.
func TestServeBinaryLeavesNoSecretInItsEnvironment(t *testing.T) {
	const key, password = "k-env-secret-7f3a", "pw-env-secret-91c2"
	cmd, base, stderr := startServeBinary(t, buildServagent(t), t.TempDir(),
		[]string{"SERVAGENT_API_KEY=" + key, "SERVAGENT_OAUTH_APPROVAL_PASSWORD=" + password, "SERVAGENT_LOG_LEVEL=DEBUG"},
		"--tools", "execute_command,read_file")

	pid := cmd.Process.Pid
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{key, password, "SERVAGENT_API_KEY", "SERVAGENT_OAUTH_APPROVAL_PASSWORD"} {
		if strings.Contains(string(environ), s) {
			t.Errorf("/proc/%d/environ holds %q", pid, s)
		}
	}
	if !strings.Contains(string(environ), "SERVAGENT_LOG_LEVEL=DEBUG") {
		t.Errorf("the other variables should stay: %q", environ)
	}
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err != nil || exe != cmd.Path {
		t.Errorf("pid %d runs %q (%v), want the servagent binary itself", pid, exe, err)
	}

	cs, err := servertest.Dial(context.Background(), base, key, "streamable", nil, nil)
	if err != nil {
		t.Fatalf("the key from the environment no longer works: %v\n%s", err, stderr.String())
	}
	defer cs.Close()
	run := func(command string) string {
		res, err := cs.CallTool(context.Background(), callParams(command))
		if err != nil {
			t.Fatal(err)
		}
		return toolText(res)
	}
	if out := run("echo pid=$PPID; tr '\\0' '\\n' < /proc/$PPID/environ"); !strings.Contains(out, "pid="+strconv.Itoa(pid)) ||
		strings.Contains(out, key) || strings.Contains(out, password) {
		t.Errorf("a command reading its parent's (pid %d) environment:\n%s", pid, out)
	}
	if out := run("env"); strings.Contains(out, key) || strings.Contains(out, password) || strings.Contains(out, "_SERVAGENT_SECRETS_FD") {
		t.Errorf("a command's environment holds the secrets or a handover descriptor:\n%s", out)
	}
	// The block was wiped in place: no re-execution (which would have
	// left the handover variable in the new image's block).
	if strings.Contains(string(environ), "_SERVAGENT_SECRETS_FD=") {
		t.Errorf("serve re-executed itself instead of wiping its environment in place: %q", environ)
	}

	if err := terminate(cmd); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if n := strings.Count(stderr.String(), "servagent listening"); n != 1 {
		t.Errorf("%d start lines, want 1:\n%s", n, stderr.String())
	}
}

// TestServeBinaryFallsBackToReexec: where the kernel refuses the in-place
// wipe (here a read-only /proc in a mount namespace of its own), serve says
// so and re-executes itself without the secrets instead; the pid, the key
// and the clean environment block are as in the test above.
func TestServeBinaryFallsBackToReexec(t *testing.T) {
	roottest.Need(t, "remounts /proc read-only in a private mount namespace")
	// bind: only that namespace's mount turns read-only. A plain remount
	// would change the procfs superblock, which every namespace shares.
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare(1) (util-linux) for a private mount namespace")
	}
	if out, err := exec.Command(unshare, "-m", "mount", "-o", "remount,bind,ro", "/proc").CombinedOutput(); err != nil {
		t.Skipf("cannot make a private read-only /proc here (%v: %s)", err, out)
	}
	const key = "k-fallback-secret-5d1e"
	bin := buildServagent(t)
	wrapper := filepath.Join(t.TempDir(), "ro-proc-servagent")
	script := "#!/bin/sh\nexec " + unshare + " -m sh -c 'mount -o remount,bind,ro /proc && exec \"$0\" \"$@\"' " + bin + ` "$@"` + "\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd, base, stderr := startServeBinary(t, wrapper, t.TempDir(), []string{"SERVAGENT_API_KEY=" + key, "SERVAGENT_LOG_LEVEL=DEBUG"},
		"--tools", "execute_command")
	pid := cmd.Process.Pid
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(environ), key) || strings.Contains(string(environ), "SERVAGENT_API_KEY") {
		t.Errorf("/proc/%d/environ holds the key: %q", pid, environ)
	}
	if !strings.Contains(string(environ), "_SERVAGENT_SECRETS_FD=") {
		t.Errorf("no re-exec with a handover descriptor: %q", environ)
	}
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err != nil || exe != bin {
		t.Errorf("pid %d runs %q (%v), want the servagent binary", pid, exe, err)
	}
	if !strings.Contains(stderr.String(), "re-executing without the secrets") {
		t.Errorf("serve did not say why it re-executed:\n%s", stderr.String())
	}
	cs, err := servertest.Dial(context.Background(), base, key, "streamable", nil, nil)
	if err != nil {
		t.Fatalf("the key no longer works after the re-exec: %v\n%s", err, stderr.String())
	}
	cs.Close()
	if err := terminate(cmd); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
}

// startServeBinary runs bin serve on a free loopback port with an empty env
// file, the given extra environment and arguments, and waits for /healthz.
// The process is killed when the test ends, if it is still running.
func startServeBinary(t *testing.T, bin, workDir string, env []string, args ...string) (*exec.Cmd, string, *logtest.Buffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--env-file", emptyEnvFile(t), "--host", "127.0.0.1", "--port", port, "--work-dir", workDir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr := &logtest.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	base := "http://127.0.0.1:" + port
	waitHealthy(t, base)
	return cmd, base, stderr
}

// terminate sends SIGTERM and waits up to 30s for the process to exit; a
// non-zero status is an error.
func terminate(cmd *exec.Cmd) error {
	cmd.Process.Signal(syscall.SIGTERM)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			return fmt.Errorf("exit after SIGTERM: %w", err)
		}
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("no exit within 30s of SIGTERM")
	}
}

// toolText is a tool result as text (JSON), for substring checks.
func toolText(res *mcp.CallToolResult) string {
	b, _ := json.Marshal(res.Content)
	return string(b)
}

// TestServerLeavesTheValidatedConfigAlone: what serve derives (a generated
// key, the ACME certificate paths) travels in server.Options beside the
// config, which nobody writes after config.Load validated it.
func TestServerLeavesTheValidatedConfigAlone(t *testing.T) {
	cfg, err := config.Load(config.LoadOptions{LookupEnv: noEnv(map[string]string{"SERVAGENT_WORK_DIR": t.TempDir()}),
		Environ: []string{}, DefaultEnvFiles: []string{}, ValidTools: tools.Names()})
	if err != nil {
		t.Fatal(err)
	}
	before := *cfg
	srv, err := server.New(server.Options{Config: cfg, APIKey: "generated-k", CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/cert.pem") {
		t.Fatalf("the derived certificate was not used: %v", err)
	}
	srv, err = server.New(server.Options{Config: cfg, APIKey: "generated-k"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, *cfg) {
		t.Errorf("server.New changed the config:\nbefore %+v\nafter  %+v", before, *cfg)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	cs, err := servertest.Dial(context.Background(), hs.URL, "generated-k", "streamable", nil, nil)
	if err != nil {
		t.Fatalf("the derived key is refused: %v", err)
	}
	cs.Close()
}

// TestServeEnvFileChecks: serve warns about a .env others can read and
// refuses, with one line and status 2, one that others can write.
func TestServeEnvFileChecks(t *testing.T) {
	readable := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(readable, []byte("SERVAGENT_LOG_LEVEL=INFO\n"), 0o600)
	os.Chmod(readable, 0o644)
	_, errOut := serveInBackground(t, &ServeOptions{EnvFile: readable, LookupEnv: noEnv(map[string]string{"SERVAGENT_WORK_DIR": t.TempDir()})})
	if !strings.Contains(errOut.String(), "level=WARN") || !strings.Contains(errOut.String(), "readable by other users (mode 0644)") {
		t.Errorf("no warning for a 0644 env file:\n%s", errOut.String())
	}

	writable := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(writable, []byte("SERVAGENT_TOOLS=all\n"), 0o600)
	os.Chmod(writable, 0o666)
	var stderr strings.Builder
	code := Run(context.Background(), []string{"serve", "--env-file", writable}, IO{In: strings.NewReader(""), Out: &strings.Builder{}, ErrOut: &stderr})
	msg := strings.TrimSpace(stderr.String())
	if code != 2 || !strings.Contains(msg, "refusing env file "+writable+": writable by other users") || strings.Contains(msg, "\n") {
		t.Errorf("world-writable env file: exit %d, %q", code, msg)
	}
}
