package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/servagent/servagent/pkg/logtest"
	"github.com/servagent/servagent/pkg/server/servertest"
)

func noEnv(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// serveInBackground runs runServe on a loopback listener until the test ends.
func serveInBackground(t *testing.T, opts *ServeOptions) (addr string, errOut *logtest.Buffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOnListener(t, opts, ln)
}

func serveOn(t *testing.T, opts *ServeOptions, ln net.Listener) string {
	t.Helper()
	addr, _ := serveOnListener(t, opts, ln)
	return addr
}

func serveOnListener(t *testing.T, opts *ServeOptions, ln net.Listener) (addr string, errOut *logtest.Buffer) {
	t.Helper()
	errOut = &logtest.Buffer{}
	opts.IO = IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: errOut}
	opts.Listener = ln
	ready := make(chan string, 1)
	opts.Ready = func(a string) { ready <- a }
	opts.Environ = []string{}
	opts.DefaultEnvFiles = []string{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, opts) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case a := <-ready:
		return a, errOut
	case err := <-done:
		t.Fatalf("serve exited: %v\n%s", err, errOut.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not become ready")
	}
	return "", nil
}

func TestServeGeneratesAndRequiresAKey(t *testing.T) {
	addr, errOut := serveInBackground(t, &ServeOptions{LookupEnv: noEnv(map[string]string{"SERVAGENT_WORK_DIR": t.TempDir()})})
	out := errOut.String()
	m := regexp.MustCompile(`API key:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no generated key printed:\n%s", out)
	}
	key := m[1]
	for _, want := range []string{"claude mcp add --transport http", `"mcpServers"`, "Bearer " + key} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q", want)
		}
	}
	if strings.Count(out, key) != 3 {
		t.Errorf("the key should appear exactly in the banner (3 times), got %d", strings.Count(out, key))
	}
	url := "http://" + addr
	cs, err := servertest.Dial(context.Background(), url, key, "streamable", nil, nil)
	if err != nil {
		t.Fatalf("right key refused: %v", err)
	}
	cs.Close()
	if _, err := servertest.Dial(context.Background(), url, "wrong", "streamable", nil, nil); err == nil {
		t.Fatal("wrong key accepted")
	}
	if _, err := servertest.Dial(context.Background(), url, "", "streamable", nil, nil); err == nil {
		t.Fatal("no key accepted")
	}
}

func TestServeInsecureNoAuthOnLoopbackOnly(t *testing.T) {
	addr, errOut := serveInBackground(t, &ServeOptions{InsecureNoAuth: true,
		LookupEnv: noEnv(map[string]string{"SERVAGENT_HOST": "127.0.0.1", "SERVAGENT_WORK_DIR": t.TempDir()})})
	if !strings.Contains(errOut.String(), "WITHOUT authentication") {
		t.Errorf("no warning logged: %s", errOut.String())
	}
	cs, err := servertest.Dial(context.Background(), "http://"+addr, "", "streamable", nil, nil)
	if err != nil {
		t.Fatalf("insecure mode should accept no key: %v", err)
	}
	cs.Close()

	var stderr bytes.Buffer
	t.Setenv("SERVAGENT_HOST", "0.0.0.0")
	code := Run(context.Background(), []string{"serve", "--insecure-no-auth", "--env-file", emptyEnvFile(t)}, IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &stderr})
	if code != 2 || !strings.Contains(stderr.String(), "loopback") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

func emptyEnvFile(t *testing.T) string {
	f := filepath.Join(t.TempDir(), "empty.env")
	os.WriteFile(f, nil, 0o600)
	return f
}

func TestServeBadConfigExitsTwoWithOneLine(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--port", "abc"}, nil, `invalid SERVAGENT_PORT="abc"`},
		{nil, map[string]string{"SERVAGENT_PORT": "99999"}, "SERVAGENT_PORT"},
		{nil, map[string]string{"SERVAGENT_MAX_OUTPUT_SIZE": "-1"}, "SERVAGENT_MAX_OUTPUT_SIZE"},
		{nil, map[string]string{"SERVAGENT_UPLOAD_MAX_SIZE": "-10"}, "SERVAGENT_UPLOAD_MAX_SIZE"},
		{nil, map[string]string{"SERVAGENT_TLS_CERTFILE": "/etc/hostname"}, "SERVAGENT_TLS_KEYFILE"},
		{[]string{"--tools", "execute_command,nope"}, nil, "valid tools: all, execute_command"},
		{nil, map[string]string{"SERVAGENT_WORK_DIR": "/does/not/exist"}, "SERVAGENT_WORK_DIR"},
		{nil, map[string]string{"SERVAGENT_OAUTH_ISSUER_URL": "https://x.example/mcp", "SERVAGENT_OAUTH_CLIENT_ID": "a"}, "SERVAGENT_OAUTH_CLIENT_SECRET"},
	}
	for _, c := range cases {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		var stderr bytes.Buffer
		code := Run(context.Background(), append([]string{"serve", "--env-file", emptyEnvFile(t)}, c.args...),
			IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &stderr})
		msg := strings.TrimSpace(stderr.String())
		if code != 2 || !strings.Contains(msg, c.want) || strings.Count(msg, "\n") != 0 {
			t.Errorf("%v %v: exit %d, stderr %q; want 2 and one line with %q", c.args, c.env, code, msg, c.want)
		}
		for k := range c.env {
			os.Unsetenv(k)
		}
	}
}

// TestServeBinaryGracefulShutdown runs the real binary, starts a long
// command through MCP, sends SIGTERM, and checks the process exits 0 and
// the command's process group is gone.
func TestServeBinaryGracefulShutdown(t *testing.T) {
	work := t.TempDir()
	cmd, base, stderr := startServeBinary(t, buildServagent(t), work, []string{"SERVAGENT_API_KEY=k-123", "SERVAGENT_LOG_LEVEL=DEBUG"})
	cs, err := servertest.Dial(context.Background(), base, "k-123", "streamable", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	go cs.CallTool(context.Background(), callParams("echo $$ > pgid; sleep 300 & sleep 300"))
	pgidFile := filepath.Join(work, "pgid")
	for i := 0; i < 100; i++ {
		if b, _ := os.ReadFile(pgidFile); len(b) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(pgidFile)
	pgid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pgid == 0 {
		t.Fatalf("command did not start:\n%s", stderr.String())
	}
	if err := terminate(cmd); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if err := syscall.Kill(-pgid, 0); err == nil {
		t.Fatalf("process group %d survived shutdown", pgid)
	}
	if strings.Contains(stderr.String(), "k-123") {
		t.Fatal("the API key appears in the logs")
	}
	if !strings.Contains(stderr.String(), `msg="tool call" tool=execute_command`) {
		t.Errorf("no audit line:\n%s", stderr.String())
	}
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			var m map[string]string
			json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			if m["status"] == "ok" {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("server not healthy")
}
