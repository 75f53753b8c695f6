package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var validTools = []string{"execute_command", "upload_file", "read_file"}

func load(t *testing.T, env map[string]string, flags map[string]string, envFile string) (*Config, error) {
	t.Helper()
	return Load(LoadOptions{
		Flags:           flags,
		LookupEnv:       func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Environ:         []string{},
		EnvFile:         envFile,
		DefaultEnvFiles: []string{},
		ValidTools:      validTools,
	})
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if c.Host != "0.0.0.0" || c.Port != 8765 || c.CommandTimeout != 300*time.Second || c.MaxOutputSize != 1000000 ||
		c.UploadMaxSize != 100000000 || c.LogLevel != "INFO" || c.WorkDir != wd ||
		strings.Join(c.Tools, ",") != "execute_command,upload_file" || c.OAuthApproval != "operator" {
		t.Fatalf("defaults: %+v", c)
	}
	if got := strings.Join(DefaultTools(), ","); got != strings.Join(c.Tools, ",") {
		t.Errorf("DefaultTools() = %s, SERVAGENT_TOOLS default loads as %v: the wizard and serve disagree", got, c.Tools)
	}
	if !c.OAuthCIMD || c.OAuthRefreshReuse != 30*time.Second || c.OAuthCIMDCAFile != "" {
		t.Fatalf("OAuth defaults: CIMD %v, refresh reuse %v, CA file %q", c.OAuthCIMD, c.OAuthRefreshReuse, c.OAuthCIMDCAFile)
	}
	c, err = load(t, map[string]string{"SERVAGENT_OAUTH_CIMD": "off", "SERVAGENT_OAUTH_REFRESH_REUSE_INTERVAL": "0"}, nil, "")
	if err != nil || c.OAuthCIMD || c.OAuthRefreshReuse != 0 {
		t.Fatalf("CIMD off, strict refresh: %v %+v", err, c)
	}
}

func TestPrecedenceFlagsEnvFileDefaults(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, ".env")
	os.WriteFile(f, []byte("# comment\nexport SERVAGENT_PORT=1111\nSERVAGENT_LOG_LEVEL='debug'\nSERVAGENT_COMMAND_TIMEOUT=7 # inline\nSERVAGENT_TOOLS=\"all\"\n"), 0o600)
	c, err := load(t, map[string]string{"SERVAGENT_PORT": "2222"}, map[string]string{"SERVAGENT_PORT": "3333"}, f)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 3333 || c.LogLevel != "DEBUG" || c.CommandTimeout != 7*time.Second || len(c.Tools) != 3 {
		t.Fatalf("%+v", c)
	}
	c, _ = load(t, map[string]string{"SERVAGENT_PORT": "2222"}, nil, f)
	if c.Port != 2222 {
		t.Fatalf("env should beat file: %d", c.Port)
	}
	c, _ = load(t, nil, nil, f)
	if c.Port != 1111 {
		t.Fatalf("file should beat default: %d", c.Port)
	}
}

func TestDefaultEnvFileSearch(t *testing.T) {
	dir := t.TempDir()
	second := filepath.Join(dir, "second.env")
	os.WriteFile(second, []byte("SERVAGENT_PORT=4444\n"), 0o600)
	c, err := Load(LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }, Environ: []string{},
		DefaultEnvFiles: []string{filepath.Join(dir, "missing.env"), second}})
	if err != nil || c.Port != 4444 || c.EnvFile != second {
		t.Fatalf("%v %+v", err, c)
	}
}

func TestUnreadableEnvFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	// A directory cannot be read as a file, even by root.
	_, err := Load(LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }, Environ: []string{},
		DefaultEnvFiles: []string{dir}})
	if err == nil {
		t.Fatal("want error for unreadable env file")
	}
	if _, err := load(t, nil, nil, filepath.Join(dir, "nope")); err == nil {
		t.Fatal("an explicit --env-file that does not exist is an error")
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"SERVAGENT_PORT": "abc"}, []string{"SERVAGENT_PORT", `"abc"`, "between 1 and 65535"}},
		{map[string]string{"SERVAGENT_PORT": "70000"}, []string{"SERVAGENT_PORT", "70000"}},
		{map[string]string{"SERVAGENT_PORT": "0"}, []string{"SERVAGENT_PORT"}},
		{map[string]string{"SERVAGENT_MAX_OUTPUT_SIZE": "-5"}, []string{"SERVAGENT_MAX_OUTPUT_SIZE", "-5"}},
		{map[string]string{"SERVAGENT_UPLOAD_MAX_SIZE": "-1"}, []string{"SERVAGENT_UPLOAD_MAX_SIZE"}},
		{map[string]string{"SERVAGENT_COMMAND_TIMEOUT": "soon"}, []string{"SERVAGENT_COMMAND_TIMEOUT"}},
		{map[string]string{"SERVAGENT_TLS_CERTFILE": "/x.pem"}, []string{"SERVAGENT_TLS_KEYFILE", "set both or neither"}},
		{map[string]string{"SERVAGENT_TLS_KEYFILE": "/x.pem"}, []string{"SERVAGENT_TLS_CERTFILE"}},
		{map[string]string{"SERVAGENT_TOOLS": "execute_command,rm_rf"}, []string{"SERVAGENT_TOOLS", `"rm_rf"`, "valid tools: all, execute_command, upload_file, read_file"}},
		{map[string]string{"SERVAGENT_WORK_DIR": filepath.Join(dir, "missing")}, []string{"SERVAGENT_WORK_DIR", "existing directory"}},
		{map[string]string{"SERVAGENT_LOG_LEVEL": "loud"}, []string{"SERVAGENT_LOG_LEVEL"}},
		{map[string]string{"SERVAGENT_OAUTH_CLIENT_ID": "x"}, []string{"SERVAGENT_OAUTH_CLIENT_SECRET"}},
		{map[string]string{"SERVAGENT_OAUTH_CLIENT_SECRET": "s3cr3t-value"}, []string{"SERVAGENT_OAUTH_CLIENT_ID"}},
		{map[string]string{"SERVAGENT_OAUTH_CLIENT_ID": "op", "SERVAGENT_OAUTH_CLIENT_SECRET": "s3cr3t-value+"}, []string{"SERVAGENT_OAUTH_CLIENT_SECRET", "- . _ ~"}},
		{map[string]string{"SERVAGENT_OAUTH_CLIENT_ID": "op", "SERVAGENT_OAUTH_CLIENT_SECRET": "s3cr3t-value%2B"}, []string{"SERVAGENT_OAUTH_CLIENT_SECRET"}},
		{map[string]string{"SERVAGENT_OAUTH_CLIENT_ID": "op:1", "SERVAGENT_OAUTH_CLIENT_SECRET": "s3cr3t-value"}, []string{"SERVAGENT_OAUTH_CLIENT_ID"}},
		{map[string]string{"SERVAGENT_OAUTH_ISSUER_URL": "https://example.com"}, []string{"SERVAGENT_OAUTH_ISSUER_URL", "/mcp"}},
		{map[string]string{"SERVAGENT_OAUTH_ISSUER_URL": "http://example.com/mcp"}, []string{"SERVAGENT_OAUTH_ISSUER_URL", "https"}},
		{map[string]string{"SERVAGENT_OAUTH_APPROVAL": "yes"}, []string{"SERVAGENT_OAUTH_APPROVAL"}},
		{map[string]string{"SERVAGENT_OAUTH_CIMD": "maybe"}, []string{"SERVAGENT_OAUTH_CIMD", "on or off"}},
		{map[string]string{"SERVAGENT_OAUTH_REFRESH_REUSE_INTERVAL": "-1"}, []string{"SERVAGENT_OAUTH_REFRESH_REUSE_INTERVAL"}},
		{map[string]string{"SERVAGENT_OAUTH_REFRESH_REUSE_INTERVAL": "30s"}, []string{"SERVAGENT_OAUTH_REFRESH_REUSE_INTERVAL"}},
		{map[string]string{"SERVAGENT_READ_WRITE_PATHS": "/srv/www\rUser=root"}, []string{"SERVAGENT_READ_WRITE_PATHS", "control characters"}},
	}
	for _, c := range cases {
		_, err := load(t, c.env, nil, "")
		if err == nil {
			t.Errorf("%v: no error", c.env)
			continue
		}
		if !IsConfigError(err) {
			t.Errorf("%v: not a config error: %v", c.env, err)
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("multi-line error %q", msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: %q lacks %q", c.env, msg, w)
			}
		}
		if strings.Contains(msg, "s3cr3t-value") {
			t.Errorf("error leaks a secret: %q", msg)
		}
	}
	if _, err := load(t, map[string]string{"SERVAGENT_OAUTH_ISSUER_URL": "http://127.0.0.1:8765/mcp"}, nil, ""); err != nil {
		t.Errorf("loopback http issuer should be accepted: %v", err)
	}
}

func TestUpdateEnvFileKeepsOtherLinesAndMode(t *testing.T) {
	f := filepath.Join(t.TempDir(), ".env")
	orig := "# servagent\nSERVAGENT_PORT=8765\n\nSERVAGENT_OAUTH_CLIENT_ID=old\nOTHER=1"
	os.WriteFile(f, []byte(orig), 0o640)
	if err := UpdateEnvFile(f, map[string]string{"SERVAGENT_OAUTH_CLIENT_ID": "new", "SERVAGENT_OAUTH_CLIENT_SECRET": "a b#c"}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(f)
	want := "# servagent\nSERVAGENT_PORT=8765\n\nSERVAGENT_OAUTH_CLIENT_ID=new\nOTHER=1\nSERVAGENT_OAUTH_CLIENT_SECRET=\"a b#c\"\n"
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	fi, _ := os.Stat(f)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	m, err := ReadEnvFile(f)
	if err != nil || m["SERVAGENT_OAUTH_CLIENT_SECRET"] != "a b#c" || m["OTHER"] != "1" {
		t.Fatalf("round trip: %v %v", m, err)
	}
}

// TestEnvFileOwnerAndMode: a .env someone else controls (a cloned
// repository's, a file in a shared directory) is refused with one line; one
// that others can read is used with a warning.
func TestEnvFileOwnerAndMode(t *testing.T) {
	write := func(t *testing.T, perm os.FileMode) string {
		p := filepath.Join(t.TempDir(), ".env")
		if err := os.WriteFile(p, []byte("SERVAGENT_PORT=4444\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
		return p
	}
	refused := func(t *testing.T, p, want string) {
		t.Helper()
		for _, opts := range []LoadOptions{{EnvFile: p}, {DefaultEnvFiles: []string{p}}} {
			opts.LookupEnv = func(string) (string, bool) { return "", false }
			opts.Environ = []string{}
			_, err := Load(opts)
			if err == nil || !IsConfigError(err) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: got %v, want one config error line with %q", p, err, want)
			}
		}
	}
	t.Run("private", func(t *testing.T) {
		c, err := load(t, nil, nil, write(t, 0o600))
		if err != nil || c.Port != 4444 || len(c.Warnings) != 0 {
			t.Fatalf("%v %+v", err, c)
		}
	})
	// A FIFO planted as .env: refused at once (it was read without the owner
	// check, and a FIFO without a writer would have blocked startup).
	t.Run("fifo", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), ".env")
		if err := syscall.Mkfifo(p, 0o666); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		refused(t, p, "not a regular file")
	})
	t.Run("world-writable", func(t *testing.T) {
		refused(t, write(t, 0o666), "writable by other users (mode 0666)")
	})
	t.Run("group-writable, foreign group", func(t *testing.T) {
		p := write(t, 0o620)
		if os.Geteuid() != 0 {
			t.Skip("needs root to give the file a group this process is not in")
		}
		if err := os.Chown(p, -1, 65534); err != nil {
			t.Fatal(err)
		}
		refused(t, p, "writable by other users (mode 0620)")
	})
	t.Run("readable by others", func(t *testing.T) {
		p := write(t, 0o644)
		c, err := load(t, nil, nil, p)
		if err != nil || c.Port != 4444 || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "readable by other users (mode 0644)") {
			t.Fatalf("%v %+v", err, c)
		}
	})
	t.Run("another user's", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give the file to another user")
		}
		p := write(t, 0o600)
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		refused(t, p, "owned by uid 65534, not by you (uid 0) or root")
	})
}
