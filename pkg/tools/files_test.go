package tools

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func writeLines(t testing.TB, p string, n int) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFileToolsAnnotations(t *testing.T) {
	t.Parallel()
	mine := []string{"read_file", "write_file", "edit_file", "read_file_binary", "write_file_binary", "list_directory", "move_path", "copy_path", "delete_path"}
	listed := listTools(t, mine)
	if len(listed) != len(mine) {
		t.Fatalf("got %d tools, want %d", len(listed), len(mine))
	}
	readOnly := map[string]bool{"read_file": true, "read_file_binary": true, "list_directory": true}
	for _, tool := range listed {
		a := tool.Annotations
		if tool.Title == "" || a == nil || a.Title == "" || a.DestructiveHint == nil || a.OpenWorldHint == nil {
			t.Errorf("%s: incomplete annotations %+v", tool.Name, a)
			continue
		}
		if *a.OpenWorldHint {
			t.Errorf("%s: openWorld must be false for local files", tool.Name)
		}
		if a.ReadOnlyHint != readOnly[tool.Name] || *a.DestructiveHint == readOnly[tool.Name] {
			t.Errorf("%s: readOnly=%v destructive=%v", tool.Name, a.ReadOnlyHint, *a.DestructiveHint)
		}
		if tool.OutputSchema == nil {
			t.Errorf("%s: no output schema", tool.Name)
		}
	}
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	p := filepath.Join(env.WorkDir, "f.txt")
	writeLines(t, p, 100)

	t.Run("whole file", func(t *testing.T) {
		t.Parallel()
		res := callTool(t, env, "read_file", map[string]any{"path": "f.txt"})
		out := structured[ReadFileOutput](t, res)
		if out.LinesReturned != 100 || out.TotalLines != 100 || !out.TotalExact || out.MoreRemaining || out.StartLine != 0 {
			t.Fatalf("unexpected %+v", out)
		}
		if !strings.HasPrefix(out.Content, "line 0\n") || !strings.HasSuffix(out.Content, "line 99\n") {
			t.Fatalf("content %q", out.Content)
		}
		if !strings.Contains(resultText(res), "of 100") || !strings.Contains(resultText(res), "end of file") {
			t.Fatalf("text %q", resultText(res))
		}
	})
	t.Run("range", func(t *testing.T) {
		t.Parallel()
		res := callTool(t, env, "read_file", map[string]any{"path": p, "offset": 10, "limit": 5})
		out := structured[ReadFileOutput](t, res)
		if out.Content != "line 10\nline 11\nline 12\nline 13\nline 14\n" || !out.MoreRemaining || out.NextOffset != 15 || out.TotalLines != 100 {
			t.Fatalf("unexpected %+v", out)
		}
		if !strings.Contains(resultText(res), "offset=15") {
			t.Fatalf("no continuation hint: %q", resultText(res))
		}
	})
	t.Run("tail", func(t *testing.T) {
		t.Parallel()
		out := structured[ReadFileOutput](t, callTool(t, env, "read_file", map[string]any{"path": p, "offset": -20}))
		if out.LinesReturned != 20 || out.StartLine != 80 || out.TotalLines != 100 || out.MoreRemaining ||
			!strings.HasPrefix(out.Content, "line 80\n") || !strings.HasSuffix(out.Content, "line 99\n") {
			t.Fatalf("unexpected %+v", out)
		}
	})
	t.Run("tail with limit", func(t *testing.T) {
		t.Parallel()
		out := structured[ReadFileOutput](t, callTool(t, env, "read_file", map[string]any{"path": p, "offset": -20, "limit": 5}))
		if out.Content != "line 80\nline 81\nline 82\nline 83\nline 84\n" || !out.MoreRemaining || out.NextOffset != 85 {
			t.Fatalf("unexpected %+v", out)
		}
	})
	t.Run("tail longer than file", func(t *testing.T) {
		t.Parallel()
		out := structured[ReadFileOutput](t, callTool(t, env, "read_file", map[string]any{"path": p, "offset": -500}))
		if out.LinesReturned != 100 || out.StartLine != 0 {
			t.Fatalf("unexpected %+v", out)
		}
	})
	t.Run("offset past end", func(t *testing.T) {
		t.Parallel()
		out := structured[ReadFileOutput](t, callTool(t, env, "read_file", map[string]any{"path": p, "offset": 500}))
		if out.LinesReturned != 0 || out.TotalLines != 100 || out.MoreRemaining {
			t.Fatalf("unexpected %+v", out)
		}
	})
	t.Run("no trailing newline", func(t *testing.T) {
		t.Parallel()
		q := filepath.Join(env.WorkDir, "nonl.txt")
		os.WriteFile(q, []byte("a\nb\nc"), 0o644)
		out := structured[ReadFileOutput](t, callTool(t, env, "read_file", map[string]any{"path": q}))
		if out.Content != "a\nb\nc" || out.TotalLines != 3 || out.LinesReturned != 3 {
			t.Fatalf("unexpected %+v", out)
		}
		out = structured[ReadFileOutput](t, callTool(t, env, "read_file", map[string]any{"path": q, "offset": -2}))
		if out.Content != "b\nc" || out.StartLine != 1 || out.TotalLines != 3 {
			t.Fatalf("tail: unexpected %+v", out)
		}
	})
	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		q := filepath.Join(env.WorkDir, "empty.txt")
		os.WriteFile(q, nil, 0o644)
		out := structured[ReadFileOutput](t, callTool(t, env, "read_file", map[string]any{"path": q}))
		if out.TotalLines != 0 || out.LinesReturned != 0 || out.Content != "" {
			t.Fatalf("unexpected %+v", out)
		}
		out = structured[ReadFileOutput](t, callTool(t, env, "read_file", map[string]any{"path": q, "offset": -5}))
		if out.TotalLines != 0 || out.LinesReturned != 0 {
			t.Fatalf("tail: unexpected %+v", out)
		}
	})
	t.Run("byte cap", func(t *testing.T) {
		t.Parallel()
		small := *env
		small.MaxOutputSize = 100 // lines 0-9 take 7 bytes, then 8: 13 whole lines fit
		res := callTool(t, &small, "read_file", map[string]any{"path": p})
		out := structured[ReadFileOutput](t, res)
		if !out.Truncated || out.LinesReturned != 13 || !out.MoreRemaining || out.NextOffset != 13 || len(out.Content) > 100 {
			t.Fatalf("unexpected %+v", out)
		}
		if !strings.Contains(resultText(res), "offset=13") || !strings.Contains(resultText(res), "output cap") {
			t.Fatalf("text %q", resultText(res))
		}
	})
	t.Run("line longer than cap", func(t *testing.T) {
		t.Parallel()
		q := filepath.Join(env.WorkDir, "long.txt")
		os.WriteFile(q, []byte(strings.Repeat("x", 5000)+"\nshort\n"), 0o644)
		small := *env
		small.MaxOutputSize = 1000
		res := callTool(t, &small, "read_file", map[string]any{"path": q})
		out := structured[ReadFileOutput](t, res)
		if !out.Truncated || len(out.Content) != 1000 || out.NextOffset != 1 || !out.MoreRemaining {
			t.Fatalf("unexpected %+v", out)
		}
		if !strings.Contains(resultText(res), "line cut") {
			t.Fatalf("text %q", resultText(res))
		}
	})
	t.Run("partial line dropped at the cap", func(t *testing.T) {
		t.Parallel()
		q := filepath.Join(env.WorkDir, "mixed.txt")
		os.WriteFile(q, []byte("a\nb\n"+strings.Repeat("y", 5000)+"\nz\n"), 0o644)
		small := *env
		small.MaxOutputSize = 1000
		for _, off := range []int{0, -3} {
			out := structured[ReadFileOutput](t, callTool(t, &small, "read_file", map[string]any{"path": q, "offset": off}))
			if out.Content != "a\nb\n" && out.Content != "b\n" || !out.Truncated || !out.MoreRemaining || out.TotalLines != 4 {
				t.Fatalf("offset %d: unexpected %+v", off, out)
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		toolError(t, callTool(t, env, "read_file", map[string]any{"path": env.WorkDir}), "list_directory")
		toolError(t, callTool(t, env, "read_file", map[string]any{"path": "missing.txt"}), "does not exist")
		toolError(t, callTool(t, env, "read_file", map[string]any{"path": ""}), "path is empty")
		toolError(t, callTool(t, env, "read_file", map[string]any{"path": p, "limit": -1}), "limit")
		toolError(t, callTool(t, env, "read_file", map[string]any{}), "path")
		bin := filepath.Join(env.WorkDir, "bin")
		os.WriteFile(bin, []byte("ELF\x00\x01\x02"), 0o644)
		toolError(t, callTool(t, env, "read_file", map[string]any{"path": bin}), "read_file_binary")
		junk := make([]byte, 4096)
		for i := range junk {
			junk[i] = byte(0x80 + i%64) // no NUL, all invalid UTF-8
		}
		os.WriteFile(bin, junk, 0o644)
		toolError(t, callTool(t, env, "read_file", map[string]any{"path": bin}), "read_file_binary")
		toolError(t, callTool(t, env, "read_file", map[string]any{"path": "/dev/null"}), "not a regular file")
		fifo := filepath.Join(env.WorkDir, "fifo")
		if err := syscall.Mkfifo(fifo, 0o644); err == nil {
			toolError(t, callTool(t, env, "read_file", map[string]any{"path": fifo}), "not a regular file") // must not block
		}
	})
	t.Run("procfs tail (size 0)", func(t *testing.T) {
		t.Parallel()
		out := structured[ReadFileOutput](t, callTool(t, env, "read_file", map[string]any{"path": "/proc/self/status", "offset": -3}))
		if out.LinesReturned != 3 || out.TotalLines < 10 || out.StartLine != out.TotalLines-3 || out.MoreRemaining {
			t.Fatalf("unexpected %+v", out)
		}
	})
	t.Run("latin1 text is not binary", func(t *testing.T) {
		t.Parallel()
		q := filepath.Join(env.WorkDir, "latin1.txt")
		os.WriteFile(q, []byte("caf\xe9 cr\xe8me\nna\xefve\n"), 0o644)
		out := structured[ReadFileOutput](t, callTool(t, env, "read_file", map[string]any{"path": q}))
		if out.TotalLines != 2 {
			t.Fatalf("unexpected %+v", out)
		}
	})
}

// TestReadFileEstimate: past Env.CountBudget the total line count is an
// estimate, said so, and a tail falls back to relative offsets.
func TestReadFileEstimate(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.CountBudget = 64 << 10
	p := filepath.Join(env.WorkDir, "f.txt")
	writeLines(t, p, 100_000) // ~889 KB
	res := callTool(t, env, "read_file", map[string]any{"path": p, "limit": 5})
	out := structured[ReadFileOutput](t, res)
	if out.TotalExact || out.TotalLines < 80_000 || out.TotalLines > 120_000 || !out.MoreRemaining || out.NextOffset != 5 {
		t.Fatalf("unexpected %+v", out)
	}
	if !strings.Contains(resultText(res), "estimated") {
		t.Fatalf("text %q", resultText(res))
	}
	out = structured[ReadFileOutput](t, callTool(t, env, "read_file", map[string]any{"path": p, "offset": -10, "limit": 4}))
	if out.TotalExact || out.StartLine != -1 || out.Content != "line 99990\nline 99991\nline 99992\nline 99993\n" || out.NextOffset != -6 {
		t.Fatalf("tail: unexpected %+v", out)
	}
}

// TestReadFileLarge reads ranges of a 200 MB file made of text islands
// separated by sparse holes (no newline in a hole, so each hole joins the
// next island's first line).
func TestReadFileLarge(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	p := filepath.Join(env.WorkDir, "big.log")
	makeIslands(t, p, 200<<20)
	out := structured[ReadFileOutput](t, callTool(t, env, "read_file", map[string]any{"path": p, "offset": 1001, "limit": 3}))
	if out.Content != "mid 1\nmid 2\nmid 3\n" || out.StartLine != 1001 || !out.MoreRemaining || out.NextOffset != 1004 {
		t.Fatalf("middle: %+v", out)
	}
	out = structured[ReadFileOutput](t, callTool(t, env, "read_file", map[string]any{"path": p, "offset": -3}))
	if out.Content != "tail 997\ntail 998\ntail 999\n" || out.TotalLines != 3000 || !out.TotalExact || out.StartLine != 2997 {
		t.Fatalf("tail: %+v", out)
	}
}

// makeIslands writes 1000 lines at the start, middle and end of a sparse
// file of the given size: 3000 lines in all.
func makeIslands(t testing.TB, p string, size int64) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	island := func(prefix string) []byte {
		var b bytes.Buffer
		for i := range 1000 {
			fmt.Fprintf(&b, "%s %d\n", prefix, i)
		}
		return b.Bytes()
	}
	tail := island("tail")
	for _, w := range []struct {
		at   int64
		data []byte
	}{{0, island("head")}, {size / 2, island("mid")}, {size - int64(len(tail)), tail}} {
		if _, err := f.WriteAt(w.data, w.at); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteFile(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	t.Run("create with parents", func(t *testing.T) {
		t.Parallel()
		res := callTool(t, env, "write_file", map[string]any{"path": "a/b/c.txt", "content": "hello\n"})
		out := structured[WriteFileOutput](t, res)
		p := filepath.Join(env.WorkDir, "a/b/c.txt")
		if out.Path != p || out.BytesWritten != 6 || !out.Created || out.Mode != "0644" || out.Size != 6 {
			t.Fatalf("unexpected %+v", out)
		}
		if b, _ := os.ReadFile(p); string(b) != "hello\n" {
			t.Fatalf("content %q", b)
		}
	})
	t.Run("create_dirs=false", func(t *testing.T) {
		t.Parallel()
		toolError(t, callTool(t, env, "write_file", map[string]any{"path": "x/y.txt", "content": "z", "create_dirs": false}), "create_dirs=true")
	})
	t.Run("overwrite keeps mode and owner", func(t *testing.T) {
		t.Parallel()
		p := filepath.Join(env.WorkDir, "keep.conf")
		os.WriteFile(p, []byte("old"), 0o600)
		os.Chmod(p, 0o640)
		if os.Geteuid() == 0 {
			os.Chown(p, 1234, 5678)
		}
		out := structured[WriteFileOutput](t, callTool(t, env, "write_file", map[string]any{"path": p, "content": "new content"}))
		if out.Created || out.Mode != "0640" {
			t.Fatalf("unexpected %+v", out)
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != 0o640 {
			t.Fatalf("mode %v", fi.Mode())
		}
		if st := fi.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && (st.Uid != 1234 || st.Gid != 5678) {
			t.Fatalf("owner %d:%d", st.Uid, st.Gid)
		}
		if b, _ := os.ReadFile(p); string(b) != "new content" {
			t.Fatalf("content %q", b)
		}
	})
	t.Run("append", func(t *testing.T) {
		t.Parallel()
		p := filepath.Join(env.WorkDir, "log.txt")
		os.WriteFile(p, []byte("one\n"), 0o600)
		out := structured[WriteFileOutput](t, callTool(t, env, "write_file", map[string]any{"path": p, "content": "two\n", "append": true}))
		if !out.Appended || out.BytesWritten != 4 || out.Size != 8 || out.Mode != "0600" {
			t.Fatalf("unexpected %+v", out)
		}
		if b, _ := os.ReadFile(p); string(b) != "one\ntwo\n" {
			t.Fatalf("content %q", b)
		}
	})
	t.Run("through symlink keeps the link", func(t *testing.T) {
		t.Parallel()
		target := filepath.Join(env.WorkDir, "real.txt")
		link := filepath.Join(env.WorkDir, "link.txt")
		os.WriteFile(target, []byte("old"), 0o644)
		os.Symlink("real.txt", link)
		structured[WriteFileOutput](t, callTool(t, env, "write_file", map[string]any{"path": link, "content": "new"}))
		if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
			t.Fatal("the symlink was replaced by a file")
		}
		if b, _ := os.ReadFile(target); string(b) != "new" {
			t.Fatalf("target content %q", b)
		}
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		toolError(t, callTool(t, env, "write_file", map[string]any{"path": env.WorkDir, "content": "x"}), "is a directory")
		toolError(t, callTool(t, env, "write_file", map[string]any{"path": "/dev/null", "content": "x"}), "not a regular file")
		toolError(t, callTool(t, env, "write_file", map[string]any{"content": "x"}), "path")
		f := filepath.Join(env.WorkDir, "plain")
		os.WriteFile(f, nil, 0o644)
		toolError(t, callTool(t, env, "write_file", map[string]any{"path": filepath.Join(f, "sub.txt"), "content": "x"}), "not a directory")
	})
}

const killEnv = "SERVAGENT_TEST_WRITE_LOOP"

// TestWriteFileKillHelper is the child of TestWriteFileKill9: it rewrites
// the file alternately with two big contents until killed.
func TestWriteFileKillHelper(t *testing.T) {
	p := os.Getenv(killEnv)
	if p == "" {
		t.Skip("helper process for TestWriteFileKill9")
	}
	env := &Env{WorkDir: filepath.Dir(p), MaxOutputSize: 1000}
	contents := killContents()
	for i := 0; ; i++ {
		if _, _, err := env.writeFile(context.Background(), nil, WriteFileInput{Path: p, Content: contents[i%2]}); err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		fmt.Println("wrote", i)
	}
}

func killContents() [2]string {
	return [2]string{strings.Repeat("old content line\n", 1<<19), strings.Repeat("NEW CONTENT LINE\n", 1<<19)} // 8.5 MiB each
}

// TestWriteFileKill9 SIGKILLs a process in the middle of write_file calls
// at random moments: the target must always hold one complete version
// (the reference wrote in place and could leave a torn file).
func TestWriteFileKill9(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "target.txt")
	contents := killContents()
	if err := os.WriteFile(p, []byte(contents[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	for round := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriteFileKillHelper$", "-test.v")
		cmd.Env = append(os.Environ(), killEnv+"="+p)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		// Wait for the first completed write so the kill lands mid-loop.
		for sc.Scan() && !strings.HasPrefix(sc.Text(), "wrote") {
		}
		time.Sleep(time.Duration(rand.IntN(40_000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		go func() {
			for sc.Scan() {
			}
		}()
		cmd.Wait()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if string(b) != contents[0] && string(b) != contents[1] {
			t.Fatalf("round %d: torn file: %d bytes, neither the old nor the new content", round, len(b))
		}
	}
	// Temp files left by a kill are allowed; the target must be intact.
	matches, _ := filepath.Glob(filepath.Join(dir, ".target.txt.servagent-*.tmp"))
	t.Logf("%d temp files left behind by SIGKILL (acceptable)", len(matches))
}

func TestEditFile(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	p := filepath.Join(env.WorkDir, "conf.ini")
	src := "[server]\nport = 8080\nhost = localhost\n\n[client]\nport = 9090\ntimeout = 5\n"
	reset := func() {
		os.WriteFile(p, []byte(src), 0o600)
	}
	t.Run("single replacement with diff", func(t *testing.T) {
		reset()
		res := callTool(t, env, "edit_file", map[string]any{"path": p, "old_string": "host = localhost", "new_string": "host = 0.0.0.0"})
		out := structured[EditFileOutput](t, res)
		if out.Replacements != 1 || out.LineEndings != "lf" {
			t.Fatalf("unexpected %+v", out)
		}
		b, _ := os.ReadFile(p)
		if string(b) != strings.Replace(src, "localhost", "0.0.0.0", 1) {
			t.Fatalf("content %q", b)
		}
		for _, want := range []string{"@@ -1,6 +1,6 @@", "-host = localhost\n", "+host = 0.0.0.0\n", " port = 8080\n", " [client]\n"} {
			if !strings.Contains(out.Diff, want) {
				t.Errorf("diff lacks %q:\n%s", want, out.Diff)
			}
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode changed to %v", fi.Mode())
		}
	})
	t.Run("count mismatch changes nothing", func(t *testing.T) {
		reset()
		msg := toolError(t, callTool(t, env, "edit_file", map[string]any{"path": p, "old_string": "port = ", "new_string": "port: "}),
			"occurs 2 times", "lines: 2 6", "expected_replacements=2")
		_ = msg
		if b, _ := os.ReadFile(p); string(b) != src {
			t.Fatalf("file changed: %q", b)
		}
	})
	t.Run("expected_replacements=2", func(t *testing.T) {
		reset()
		out := structured[EditFileOutput](t, callTool(t, env, "edit_file", map[string]any{"path": p, "old_string": "port = ", "new_string": "port: ", "expected_replacements": 2}))
		// Occurrences 4 lines apart share their context: one merged hunk.
		if out.Replacements != 2 || !strings.Contains(out.Diff, "@@ -1,7 +1,7 @@\n [server]\n-port = 8080\n+port: 8080\n host") || strings.Count(out.Diff, "@@ -") != 1 {
			t.Fatalf("unexpected %+v", out)
		}
		if b, _ := os.ReadFile(p); string(b) != strings.ReplaceAll(src, "port = ", "port: ") {
			t.Fatalf("content %q", b)
		}
	})
	t.Run("not found shows near match", func(t *testing.T) {
		reset()
		toolError(t, callTool(t, env, "edit_file", map[string]any{"path": p, "old_string": "  timeout = 50\n", "new_string": "timeout = 10\n"}),
			"not found", "line 7", "timeout = 5", "Re-read the file", "do not retry the same old_string")
		if b, _ := os.ReadFile(p); string(b) != src {
			t.Fatalf("file changed: %q", b)
		}
	})
	t.Run("crlf", func(t *testing.T) {
		q := filepath.Join(env.WorkDir, "win.txt")
		os.WriteFile(q, []byte("one\r\ntwo\r\nthree\r\n"), 0o644)
		out := structured[EditFileOutput](t, callTool(t, env, "edit_file", map[string]any{"path": q, "old_string": "one\ntwo\n", "new_string": "one\n2\nextra\n"}))
		if out.LineEndings != "crlf" {
			t.Fatalf("unexpected %+v", out)
		}
		if b, _ := os.ReadFile(q); string(b) != "one\r\n2\r\nextra\r\nthree\r\n" {
			t.Fatalf("content %q", b)
		}
	})
	t.Run("diff is capped", func(t *testing.T) {
		reset()
		big := strings.Repeat("generated line\n", 10_000)
		out := structured[EditFileOutput](t, callTool(t, env, "edit_file", map[string]any{"path": p, "old_string": "timeout = 5\n", "new_string": big}))
		if !out.DiffTruncated || len(out.Diff) > 17<<10 || !strings.Contains(out.Diff, "omitted") {
			t.Fatalf("diff of %d bytes, truncated=%v", len(out.Diff), out.DiffTruncated)
		}
		if !strings.HasSuffix(mustRead(t, p), big) {
			t.Fatal("file not fully written")
		}
	})
	t.Run("crlf old_string on an lf file", func(t *testing.T) {
		reset()
		structured[EditFileOutput](t, callTool(t, env, "edit_file", map[string]any{"path": p, "old_string": "port = 8080\r\nhost", "new_string": "port = 1\r\nhost"}))
		if !strings.Contains(mustRead(t, p), "port = 1\nhost") {
			t.Fatalf("content %q", mustRead(t, p))
		}
		toolError(t, callTool(t, env, "edit_file", map[string]any{"path": p, "old_string": "port = 1\nhost", "new_string": "port = 1\r\nhost"}), "line endings")
	})
	t.Run("multi-line deletion diff", func(t *testing.T) {
		reset()
		out := structured[EditFileOutput](t, callTool(t, env, "edit_file", map[string]any{"path": p, "old_string": "\n[client]\n", "new_string": "\n"}))
		if !strings.Contains(out.Diff, "-[client]\n") {
			t.Fatalf("diff:\n%s", out.Diff)
		}
	})
	t.Run("errors", func(t *testing.T) {
		reset()
		toolError(t, callTool(t, env, "edit_file", map[string]any{"path": p, "old_string": "", "new_string": "x"}), "write_file")
		toolError(t, callTool(t, env, "edit_file", map[string]any{"path": p, "old_string": "port", "new_string": "port"}), "identical")
		toolError(t, callTool(t, env, "edit_file", map[string]any{"path": p, "old_string": "port", "new_string": "x", "expected_replacements": 0}), "at least 1")
		toolError(t, callTool(t, env, "edit_file", map[string]any{"path": "nope.txt", "old_string": "a", "new_string": "b"}), "does not exist", "write_file")
		toolError(t, callTool(t, env, "edit_file", map[string]any{"path": env.WorkDir, "old_string": "a", "new_string": "b"}), "is a directory")
		bin := filepath.Join(env.WorkDir, "blob")
		os.WriteFile(bin, []byte("a\x00b"), 0o644)
		toolError(t, callTool(t, env, "edit_file", map[string]any{"path": bin, "old_string": "a", "new_string": "b"}), "binary")
		if b, _ := os.ReadFile(p); string(b) != src {
			t.Fatalf("file changed: %q", b)
		}
	})
}
