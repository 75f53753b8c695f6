package server_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/servagent/servagent/internal/testutil/roottest"
	"github.com/servagent/servagent/pkg/server/servertest"
)

// plantedLink makes a sticky world-writable directory in dir holding a
// symlink owned by nobody to a root-only file outside it.
func plantedLink(t *testing.T, dir string) (link, secret string) {
	t.Helper()
	secret = filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("root only"), 0o600)
	link = filepath.Join(roottest.SharedDir(t, dir, "shared"), "planted")
	roottest.SymlinkAs(t, secret, link, roottest.Nobody)
	return link, secret
}

// Every tool that writes refuses to write through a symlink another user
// planted in a shared directory, and says why.
func TestToolWritesRefusePlantedSymlink(t *testing.T) {
	roottest.Need(t, "plants a symlink owned by nobody, as servagent running as root meets them")
	inst := start(t, nil)
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	dir := inst.Config.WorkDir
	link, secret := plantedLink(t, dir)
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("pwned"), 0o644)
	b64 := base64.StdEncoding.EncodeToString([]byte("pwned"))
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"write_file", map[string]any{"path": link, "content": "pwned"}},
		{"write_file", map[string]any{"path": link, "content": "pwned", "append": true}},
		{"edit_file", map[string]any{"path": link, "old_string": "root only", "new_string": "pwned"}},
		{"write_file_binary", map[string]any{"path": link, "content_base64": b64}},
		{"write_file_binary", map[string]any{"path": link, "content_base64": b64, "append": true}},
		{"upload_file", map[string]any{"source_path": src, "destination_path": link}},
		{"copy_path", map[string]any{"source": src, "destination": link}},
	} {
		res := call(t, cs, c.tool, c.args)
		if !res.IsError || !strings.Contains(text(res), "protected_symlinks") {
			t.Errorf("%s %v: error=%v %s", c.tool, c.args, res.IsError, text(res))
		}
	}
	// move_path renames over the link itself: the link goes, its target stays.
	res := call(t, cs, "move_path", map[string]any{"source": src, "destination": link})
	if res.IsError {
		t.Errorf("move_path: %s", text(res))
	}
	if b, _ := os.ReadFile(secret); string(b) != "root only" {
		t.Fatalf("secret written through the planted symlink: %q", b)
	}
	if fi, _ := os.Stat(secret); fi.Mode() != 0o600 {
		t.Errorf("secret mode changed: %v", fi.Mode())
	}
}

// No tool leaves setuid or setgid on content it wrote.
func TestToolWritesDropSetuid(t *testing.T) {
	roottest.Need(t, "replaces root setuid files, as servagent running as root meets them")
	inst := start(t, nil)
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	dir := inst.Config.WorkDir
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("payload #1"), 0o755)
	b64 := base64.StdEncoding.EncodeToString([]byte("payload"))
	for i, c := range []struct {
		tool string
		args func(dst string) map[string]any
	}{
		{"write_file", func(dst string) map[string]any { return map[string]any{"path": dst, "content": "payload"} }},
		{"write_file", func(dst string) map[string]any {
			return map[string]any{"path": dst, "content": "payload", "append": true}
		}},
		{"edit_file", func(dst string) map[string]any {
			return map[string]any{"path": dst, "old_string": "old", "new_string": "payload"}
		}},
		{"write_file_binary", func(dst string) map[string]any { return map[string]any{"path": dst, "content_base64": b64} }},
		{"write_file_binary", func(dst string) map[string]any {
			return map[string]any{"path": dst, "content_base64": b64, "offset": 3, "append": true}
		}},
		{"upload_file", func(dst string) map[string]any { return map[string]any{"source_path": src, "destination_path": dst} }},
		{"copy_path", func(dst string) map[string]any { return map[string]any{"source": src, "destination": dst} }},
	} {
		dst := filepath.Join(dir, "suid-"+c.tool+"-"+string(rune('a'+i)))
		os.WriteFile(dst, []byte("old"), 0o755)
		os.Chmod(dst, 0o755|os.ModeSetuid|os.ModeSetgid)
		res := call(t, cs, c.tool, c.args(dst))
		if res.IsError {
			t.Errorf("%s: %s", c.tool, text(res))
			continue
		}
		fi, err := os.Stat(dst)
		if err != nil || fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode after the write %v (%v), want -rwxr-xr-x", c.tool, fi.Mode(), err)
		}
		if b, _ := os.ReadFile(dst); !strings.Contains(string(b), "payload") {
			t.Errorf("%s: content %q", c.tool, b)
		}
	}
}

// delete_path protects the directory SERVAGENT_WORK_DIR resolves to, not
// only its name.
func TestDeletePathProtectsResolvedWorkDir(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "releases", "7")
	os.MkdirAll(real, 0o755)
	link := filepath.Join(base, "app")
	os.Symlink(real, link)
	inst := start(t, map[string]string{"SERVAGENT_WORK_DIR": link})
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	for _, p := range []string{real, filepath.Dir(real)} {
		res := call(t, cs, "delete_path", map[string]any{"path": p, "recursive": true})
		if !res.IsError || !strings.Contains(text(res), "working directory") {
			t.Errorf("delete_path %s: error=%v %s", p, res.IsError, text(res))
		}
	}
	if _, err := os.Stat(real); err != nil {
		t.Fatalf("the real working directory is gone: %v", err)
	}
}
