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
	"strings"
	"testing"

	"github.com/servagent/servagent/pkg/config"
)

var (
	genIDRe     = regexp.MustCompile(`SERVAGENT_OAUTH_CLIENT_ID=(servagent-[0-9a-f]{16})\n`)
	genSecretRe = regexp.MustCompile(`SERVAGENT_OAUTH_CLIENT_SECRET=([A-Za-z0-9_-]{43})\n`)
)

func genIO() (IO, *bytes.Buffer) {
	var out bytes.Buffer
	return IO{In: strings.NewReader(""), Out: &out, ErrOut: &bytes.Buffer{}}, &out
}

func TestGenCredentialsPrint(t *testing.T) {
	ios, out := genIO()
	if err := runGenCredentials(context.Background(), &GenCredentialsOptions{IO: ios}); err != nil {
		t.Fatal(err)
	}
	id, sec := genIDRe.FindStringSubmatch(out.String()), genSecretRe.FindStringSubmatch(out.String())
	if id == nil || sec == nil {
		t.Fatalf("output lacks the lines to paste:\n%s", out)
	}
	// Form-encoding leaves them unchanged, so Basic works whether or not a
	// client encodes (RFC 6749 §2.3.1), and config validation accepts them.
	if !config.IsUnreserved(id[1]) || !config.IsUnreserved(sec[1]) {
		t.Fatalf("generated credentials use reserved characters: %q %q", id[1], sec[1])
	}
	// Two runs never give the same values.
	ios2, out2 := genIO()
	runGenCredentials(context.Background(), &GenCredentialsOptions{IO: ios2})
	if strings.Contains(out2.String(), id[1]) || strings.Contains(out2.String(), sec[1]) {
		t.Fatal("credentials repeated")
	}
}

func TestGenCredentialsWriteKeepsOtherLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	orig := "# servagent settings\nSERVAGENT_API_KEY=abc\n\nSERVAGENT_OAUTH_CLIENT_ID=servagent-old\nSERVAGENT_OAUTH_ISSUER_URL=https://example.com/mcp\n"
	if err := os.WriteFile(path, []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o640)
	ios, out := genIO()
	if err := runGenCredentials(context.Background(), &GenCredentialsOptions{IO: ios, Write: true, EnvFile: path}); err != nil {
		t.Fatal(err)
	}
	env, err := config.ReadEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if env["SERVAGENT_API_KEY"] != "abc" || env["SERVAGENT_OAUTH_ISSUER_URL"] != "https://example.com/mcp" {
		t.Fatalf("other variables changed: %v", env)
	}
	id, sec := env["SERVAGENT_OAUTH_CLIENT_ID"], env["SERVAGENT_OAUTH_CLIENT_SECRET"]
	if !regexp.MustCompile(`^servagent-[0-9a-f]{16}$`).MatchString(id) || len(sec) < 40 {
		t.Fatalf("written id %q secret len %d", id, len(sec))
	}
	if !strings.Contains(out.String(), id) || !strings.Contains(out.String(), sec) || !strings.Contains(out.String(), "Replaced") {
		t.Fatalf("output:\n%s", out)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "# servagent settings\nSERVAGENT_API_KEY=abc\n\nSERVAGENT_OAUTH_CLIENT_ID=") || strings.Count(string(b), "SERVAGENT_OAUTH_CLIENT_ID=") != 1 {
		t.Fatalf("file layout not kept:\n%s", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %#o, want 0640 kept", fi.Mode().Perm())
	}
}

func TestGenCredentialsDefaultEnvFile(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "a.env"), filepath.Join(dir, "b.env")
	// Neither exists: the last candidate is created, 0600.
	ios, _ := genIO()
	if err := runGenCredentials(context.Background(), &GenCredentialsOptions{IO: ios, Write: true, DefaultEnvFiles: []string{first, second}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(first); err == nil {
		t.Fatal("wrote the first candidate although it did not exist")
	}
	fi, err := os.Stat(second)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("second candidate: %v %v", err, fi)
	}
	// The first exists: it is the one updated.
	os.WriteFile(first, []byte("X=1\n"), 0o600)
	ios, _ = genIO()
	if err := runGenCredentials(context.Background(), &GenCredentialsOptions{IO: ios, Write: true, DefaultEnvFiles: []string{first, second}}); err != nil {
		t.Fatal(err)
	}
	env, _ := config.ReadEnvFile(first)
	if env["X"] != "1" || env["SERVAGENT_OAUTH_CLIENT_ID"] == "" {
		t.Fatalf("first candidate: %v", env)
	}
	// A directory as env file is refused with a usage exit code.
	ios, _ = genIO()
	err = runGenCredentials(context.Background(), &GenCredentialsOptions{IO: ios, Write: true, EnvFile: dir})
	if ee, ok := err.(*ExitError); !ok || ee.Code != 2 {
		t.Fatalf("directory: %v", err)
	}
}

func TestOAuthCommandTree(t *testing.T) {
	ios, out := genIO()
	root := NewRootCmd(ios)
	root.SetArgs([]string{"oauth", "gen-credentials"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if genIDRe.FindString(out.String()) == "" {
		t.Fatalf("output:\n%s", out)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "x.env")
	ios, _ = genIO()
	root = NewRootCmd(ios)
	root.SetArgs([]string{"oauth", "gen-credentials", "--write", "--env-file", path})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if env, _ := config.ReadEnvFile(path); env["SERVAGENT_OAUTH_CLIENT_SECRET"] == "" {
		t.Fatal("--write --env-file did not write")
	}
}

// TestServeOAuthCIMDSettings: SERVAGENT_OAUTH_CIMD and
// SERVAGENT_OAUTH_CIMD_CA_FILE reach the authorization server that serve
// starts (metadata on the wire; a bad CA file stops startup naming it).
func TestServeOAuthCIMDSettings(t *testing.T) {
	metadata := func(extra map[string]string) map[string]any {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{
			"SERVAGENT_WORK_DIR":         t.TempDir(),
			"SERVAGENT_API_KEY":          "cimd-settings-key",
			"SERVAGENT_OAUTH_ISSUER_URL": "http://" + ln.Addr().String() + "/mcp",
			"SERVAGENT_OAUTH_DB_PATH":    filepath.Join(t.TempDir(), "oauth", "oauth.db"),
		}
		for k, v := range extra {
			env[k] = v
		}
		addr := serveOn(t, &ServeOptions{LookupEnv: noEnv(env)}, ln)
		resp, err := http.Get("http://" + addr + "/mcp/.well-known/oauth-authorization-server")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := metadata(nil); m["client_id_metadata_document_supported"] != true {
		t.Fatalf("default: metadata %v lacks client_id_metadata_document_supported", m)
	}
	if m := metadata(map[string]string{"SERVAGENT_OAUTH_CIMD": "off"}); m["client_id_metadata_document_supported"] != nil {
		t.Fatalf("SERVAGENT_OAUTH_CIMD=off: metadata still advertises documents: %v", m)
	}

	missing := filepath.Join(t.TempDir(), "no-such-ca.pem")
	var stderr bytes.Buffer
	t.Setenv("SERVAGENT_OAUTH_ISSUER_URL", "http://127.0.0.1:1/mcp")
	t.Setenv("SERVAGENT_OAUTH_DB_PATH", filepath.Join(t.TempDir(), "o", "oauth.db"))
	t.Setenv("SERVAGENT_OAUTH_CIMD_CA_FILE", missing)
	t.Setenv("SERVAGENT_API_KEY", "cimd-settings-key")
	t.Setenv("SERVAGENT_WORK_DIR", t.TempDir())
	t.Setenv("SERVAGENT_HOST", "127.0.0.1")
	t.Setenv("SERVAGENT_PORT", "1")
	code := Run(context.Background(), []string{"serve", "--env-file", emptyEnvFile(t)}, IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &stderr})
	if code == 0 || !strings.Contains(stderr.String(), missing) {
		t.Fatalf("exit %d, stderr %q: want a failure naming %s", code, stderr.String(), missing)
	}
}
