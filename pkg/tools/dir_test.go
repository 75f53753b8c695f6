package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/servagent/servagent/internal/testutil/roottest"
)

func mkTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") { // a directory
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func listedPaths(out ListDirectoryOutput) []string {
	var ps []string
	for _, e := range out.Entries {
		ps = append(ps, e.Path)
	}
	return ps
}

func TestListDirectory(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	root := env.WorkDir
	mkTree(t, root, map[string]string{
		"b.txt": "hello", ".hidden": "h", ".git/config": "c", "a/b/c/d/deep.txt": "x", "a/one.txt": "1",
	})
	os.Chmod(filepath.Join(root, "b.txt"), 0o750|os.ModeSetuid)
	os.Symlink("b.txt", filepath.Join(root, "link"))
	os.Symlink(".", filepath.Join(root, "a", "loop"))
	os.Symlink("..", filepath.Join(root, "a", "up"))

	// Subtests stay in order: "cap and truncated flag" adds entries the others would list.
	t.Run("flat", func(t *testing.T) {
		res := callTool(t, env, "list_directory", map[string]any{})
		out := structured[ListDirectoryOutput](t, res)
		if got, want := listedPaths(out), []string{".git", ".hidden", "a", "b.txt", "link"}; !slices.Equal(got, want) {
			t.Fatalf("paths %v, want %v", got, want)
		}
		byName := map[string]DirEntry{}
		for _, e := range out.Entries {
			byName[e.Name] = e
		}
		b := byName["b.txt"]
		if b.Type != "file" || b.Size != 5 || b.Mode != "4750" || b.ModeString != "-rwsr-x---" {
			t.Fatalf("b.txt %+v", b)
		}
		if _, err := time.Parse(time.RFC3339, b.Mtime); err != nil {
			t.Fatalf("mtime %q: %v", b.Mtime, err)
		}
		if l := byName["link"]; l.Type != "symlink" || l.Target != "b.txt" || l.ModeString[0] != 'l' {
			t.Fatalf("link %+v", l)
		}
		if a := byName["a"]; a.Type != "dir" || a.ModeString != "drwxr-xr-x" {
			t.Fatalf("a %+v", a)
		}
		if out.Truncated || out.Count != 5 || !strings.Contains(resultText(res), "link -> b.txt") {
			t.Fatalf("unexpected %+v\n%s", out, resultText(res))
		}
	})
	t.Run("hidden filter", func(t *testing.T) {
		out := structured[ListDirectoryOutput](t, callTool(t, env, "list_directory", map[string]any{"recursive": true, "include_hidden": false}))
		for _, p := range listedPaths(out) {
			if strings.Contains(p, "/.") || strings.HasPrefix(p, ".") {
				t.Fatalf("hidden entry %s listed", p)
			}
		}
	})
	t.Run("depth", func(t *testing.T) {
		out := structured[ListDirectoryOutput](t, callTool(t, env, "list_directory", map[string]any{"path": "a", "recursive": true, "max_depth": 2}))
		if got, want := listedPaths(out), []string{"b", "b/c", "loop", "one.txt", "up"}; !slices.Equal(got, want) {
			t.Fatalf("paths %v, want %v", got, want)
		}
	})
	t.Run("symlink loops do not recurse", func(t *testing.T) {
		done := make(chan ListDirectoryOutput, 1)
		go func() {
			_, out, _ := env.listDirectory(context.Background(), nil, ListDirectoryInput{Path: root, Recursive: true})
			done <- out
		}()
		select {
		case out := <-done:
			want := []string{".git", ".git/config", ".hidden", "a", "a/b", "a/b/c", "a/b/c/d", "a/b/c/d/deep.txt", "a/loop", "a/one.txt", "a/up", "b.txt", "link"}
			if got := listedPaths(out); !slices.Equal(got, want) {
				t.Fatalf("paths %v, want %v", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("recursive listing with symlink loops hangs")
		}
	})
	t.Run("cap and truncated flag", func(t *testing.T) {
		big := filepath.Join(root, "many")
		os.Mkdir(big, 0o755)
		for i := range 700 {
			os.WriteFile(filepath.Join(big, fmt.Sprintf("f%04d", i)), nil, 0o644)
		}
		res := callTool(t, env, "list_directory", map[string]any{"path": "many", "limit": 300})
		out := structured[ListDirectoryOutput](t, res)
		if !out.Truncated || out.Count != 300 || len(out.Entries) != 300 {
			t.Fatalf("count %d truncated %v", out.Count, out.Truncated)
		}
		if !slices.IsSortedFunc(out.Entries, func(a, b DirEntry) int { return strings.Compare(a.Path, b.Path) }) {
			t.Fatal("not sorted")
		}
		if !strings.Contains(resultText(res), "TRUNCATED") || !strings.Contains(resultText(res), "first 300 entries read, then sorted") {
			t.Fatalf("text %q", resultText(res)[:300])
		}
	})
	t.Run("errors", func(t *testing.T) {
		toolError(t, callTool(t, env, "list_directory", map[string]any{"path": "b.txt"}), "not a directory", "read_file")
		toolError(t, callTool(t, env, "list_directory", map[string]any{"path": "nope"}), "does not exist")
		toolError(t, callTool(t, env, "list_directory", map[string]any{"limit": -1}), "limit")
		toolError(t, callTool(t, env, "list_directory", map[string]any{"limit": 1 << 20}), "maximum")
		toolError(t, callTool(t, env, "list_directory", map[string]any{"recursive": true, "max_depth": -2}), "max_depth")
	})
}

const listAsNobodyEnv = "SERVAGENT_TEST_LIST_AS_NOBODY"

// TestListDirectoryUnreadableHelper lists a directory and prints the JSON
// output; TestListDirectoryUnreadable runs it as an unprivileged user,
// since root reads through chmod 000.
func TestListDirectoryUnreadableHelper(t *testing.T) {
	dir := os.Getenv(listAsNobodyEnv)
	if dir == "" {
		t.Skip("helper process for TestListDirectoryUnreadable")
	}
	_, out, err := (&Env{WorkDir: dir, MaxOutputSize: 1 << 20}).listDirectory(context.Background(), nil, ListDirectoryInput{Path: dir, Recursive: true})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	b, _ := json.Marshal(out)
	fmt.Printf("JSON%s\n", b)
	os.Exit(0)
}

func TestListDirectoryUnreadable(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "servagent-list-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(dir, "locked"), 0o755); os.RemoveAll(dir) })
	mkTree(t, dir, map[string]string{"ok.txt": "x", "locked/secret.txt": "s"})
	os.Chmod(filepath.Join(dir, "locked"), 0)
	os.Chmod(dir, 0o755)

	var out ListDirectoryOutput
	if os.Geteuid() != 0 {
		_, out, err = (&Env{WorkDir: dir}).listDirectory(context.Background(), nil, ListDirectoryInput{Path: dir, Recursive: true})
		if err != nil {
			t.Fatal(err)
		}
	} else {
		// Root ignores chmod 000: run the listing as nobody from a copy of
		// the test binary that nobody can execute.
		bin := filepath.Join(dir, "test.bin")
		if err := copyExecutable(os.Args[0], bin); err != nil {
			t.Skipf("running as root and cannot copy the test binary for an unprivileged run: %v", err)
		}
		cmd := exec.Command(bin, "-test.run=^TestListDirectoryUnreadableHelper$")
		cmd.Env = append(os.Environ(), listAsNobodyEnv+"="+dir, "GOCOVERDIR=")
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: roottest.Nobody, Gid: roottest.Nobody}}
		b, err := cmd.Output()
		_, js, found := strings.Cut(string(b), "JSON")
		if !found {
			t.Skipf("running as root (chmod 000 does not stop root) and the unprivileged re-run failed (%v: %s); cannot test unreadable directories here", err, b)
		}
		js, _, _ = strings.Cut(js, "\n")
		if err := json.Unmarshal([]byte(js), &out); err != nil {
			t.Fatal(err)
		}
		os.Remove(bin)
		t.Log("listed as uid 65534 in a child process (root reads through chmod 000)")
	}
	if got := listedPaths(out); !slices.Contains(got, "ok.txt") || !slices.Contains(got, "locked") || slices.Contains(got, "locked/secret.txt") {
		t.Fatalf("paths %v", got)
	}
	if len(out.Errors) != 1 || out.Errors[0].Path != "locked" || !strings.Contains(out.Errors[0].Error, "permission denied") {
		t.Fatalf("errors %+v", out.Errors)
	}
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
