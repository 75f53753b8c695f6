package cli

import (
	"bytes"
	"context"
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
	root := NewRootCmd(&Factory{IO: ios})
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
	root = NewRootCmd(&Factory{IO: ios})
	root.SetArgs([]string{"oauth", "gen-credentials", "--write", "--env-file", path})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if env, _ := config.ReadEnvFile(path); env["SERVAGENT_OAUTH_CLIENT_SECRET"] == "" {
		t.Fatal("--write --env-file did not write")
	}
}
