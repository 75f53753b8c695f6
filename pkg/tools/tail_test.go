package tools

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func writeNumberedLines(t *testing.T, path string, n int) {
	t.Helper()
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTailFileLastLines(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	p := filepath.Join(env.WorkDir, "app.log")
	writeNumberedLines(t, p, 100)
	out := structured[TailFileOutput](t, callTool(t, env, "tail_file", map[string]any{"path": p, "lines": 5}))
	if out.Output != "line 96\nline 97\nline 98\nline 99\nline 100\n" || out.Lines != 5 || out.Source != p {
		t.Errorf("got %+v", out)
	}
	// Default 50 lines, relative path from WorkDir.
	out = structured[TailFileOutput](t, callTool(t, env, "tail_file", map[string]any{"path": "app.log"}))
	if out.Lines != 50 || !strings.HasPrefix(out.Output, "line 51\n") {
		t.Errorf("default lines: %d lines, starts %q", out.Lines, out.Output[:20])
	}
	// A path starting with '-' is a file, not a tail option.
	dash := filepath.Join(env.WorkDir, "-n")
	writeNumberedLines(t, dash, 3)
	res := callTool(t, env, "tail_file", map[string]any{"path": "-n", "lines": 1})
	if out := structured[TailFileOutput](t, res); out.Output != "line 3\n" {
		t.Errorf("dash file: %+v", out)
	}
}

func TestTailFileGrepIsLiteral(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	canary := filepath.Join(os.TempDir(), "pwned-"+sysRandName(t))
	p := filepath.Join(env.WorkDir, "app.log")
	content := "INFO started\nERROR disk full\nuser ran $(id)\na.b\naxb\nerror: lower case\nx; touch " + canary + "\n"
	os.WriteFile(p, []byte(content), 0o644)
	cases := map[string]string{
		"error":                  "ERROR disk full\nerror: lower case\n",
		"$(id)":                  "user ran $(id)\n",
		"a.b":                    "a.b\n", // not a regex: axb must not match
		".*":                     "",
		"; touch " + canary:      "x; touch " + canary + "\n",
		"`touch " + canary + "`": "",
	}
	for grep, want := range cases {
		out := structured[TailFileOutput](t, callTool(t, env, "tail_file", map[string]any{"path": p, "grep": grep}))
		if out.Output != want {
			t.Errorf("grep %q: got %q, want %q", grep, out.Output, want)
		}
	}
	if _, err := os.Stat(canary); !os.IsNotExist(err) {
		os.Remove(canary)
		t.Fatal("grep reached a shell")
	}
}

func TestTailFileBadInput(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	p := filepath.Join(env.WorkDir, "a.log")
	writeNumberedLines(t, p, 3)
	toolError(t, callTool(t, env, "tail_file", map[string]any{}), "exactly one of path")
	toolError(t, callTool(t, env, "tail_file", map[string]any{"path": p, "journalctl_unit": "nginx"}), "exactly one of path")
	toolError(t, callTool(t, env, "tail_file", map[string]any{"path": p, "lines": -3}), "lines must be positive")
	toolError(t, callTool(t, env, "tail_file", map[string]any{"path": p, "follow": true, "follow_timeout": -1}), "follow_timeout must be")
	toolError(t, callTool(t, env, "tail_file", map[string]any{"path": filepath.Join(env.WorkDir, "nope.log")}), "does not exist")
	toolError(t, callTool(t, env, "tail_file", map[string]any{"path": env.WorkDir}), "is a directory")
	toolError(t, callTool(t, env, "tail_file", map[string]any{"path": "/dev/zero"}), "not a regular file")
	for _, unit := range []string{"nginx; touch /tmp/x", "-f", "../x", "$(id)", strings.Repeat("a", 300)} {
		toolError(t, callTool(t, env, "tail_file", map[string]any{"journalctl_unit": unit}), "journalctl_unit")
	}
}

func TestTailFileJournalNoSystemd(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.Systemd.RunDir = filepath.Join(t.TempDir(), "absent")
	toolError(t, callTool(t, env, "tail_file", map[string]any{"journalctl_unit": "nginx"}), "systemd is not running", "path=")
}

func TestTailFileJournalArgv(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	dir := fakeSystemd(t, env)
	out := structured[TailFileOutput](t, callTool(t, env, "tail_file", map[string]any{"journalctl_unit": "nginx.service", "lines": 7}))
	if out.Output != "fake journalctl ok\n" || out.Source != "journalctl --unit=nginx.service" {
		t.Errorf("got %+v", out)
	}
	calls := fakeCalls(t, dir)
	want := []string{"journalctl", "--no-pager", "--unit=nginx.service", "-n", "7"}
	if len(calls) != 1 || strings.Join(calls[0], "\x00") != strings.Join(want, "\x00") {
		t.Errorf("argv %q, want %q", calls, want)
	}
	// With follow, -f is added; the fake exits at once, which is reported.
	out = structured[TailFileOutput](t, callTool(t, env, "tail_file", map[string]any{"journalctl_unit": "nginx", "follow": true}))
	calls = fakeCalls(t, dir)
	if len(calls) != 2 || !slices.Equal(calls[1], []string{"journalctl", "--no-pager", "--unit=nginx", "-n", "50", "-f"}) || !strings.Contains(out.Notes, "exited before") {
		t.Errorf("follow argv %q, notes %q", calls, out.Notes)
	}
}

func TestTailFileFollow(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.ProgressInterval = 300 * time.Millisecond
	p := filepath.Join(env.WorkDir, "follow-"+sysRandName(t)+".log")
	writeNumberedLines(t, p, 3)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return
			}
			fmt.Fprintf(f, "appended %d\nnoise %d\n", i, i)
			f.Close()
		}
	}()
	start := time.Now()
	res, progress := callToolWithProgress(t, env, "tail_file", map[string]any{"path": p, "lines": 2, "follow": true, "follow_timeout": 2, "grep": "PEND"})
	close(stop)
	<-done
	elapsed := time.Since(start)
	out := structured[TailFileOutput](t, res)
	if !out.Followed || out.FollowSeconds != 2 {
		t.Errorf("not reported as followed: %+v", out)
	}
	// grep applies to the initial lines and the followed ones alike.
	if !strings.HasPrefix(out.Output, "appended 1\n") || !strings.Contains(out.Output, "appended 3\n") || strings.Contains(out.Output, "noise") || strings.Contains(out.Output, "line") {
		t.Errorf("followed output %q", out.Output)
	}
	if elapsed < 2*time.Second || elapsed > 8*time.Second {
		t.Errorf("follow took %s for a 2s window", elapsed)
	}
	if progress == 0 {
		t.Error("no progress notification while following")
	}
	if left := processesWithArg(p); len(left) > 0 {
		t.Errorf("tail processes outlived the call: %v", left)
	}
}

// follow_timeout above 60 is clamped, not rejected; cancellation ends the
// follow early and still kills the reader.
func TestTailFileFollowClampAndCancel(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	p := filepath.Join(env.WorkDir, "clamp-"+sysRandName(t)+".log")
	writeNumberedLines(t, p, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, out, err := env.tailFile(ctx, nil, TailFileInput{Path: p, Follow: true, FollowTimeout: 3600})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("cancel did not end the follow")
	}
	if !strings.Contains(out.Notes, "clamped to 60s") || !strings.Contains(out.Notes, "cancelled") || out.Output != "line 1\n" {
		t.Errorf("got %+v", out)
	}
	if left := processesWithArg(p); len(left) > 0 {
		t.Errorf("tail processes outlived the call: %v", left)
	}
}

func TestTailFileOutputCapped(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.MaxOutputSize = 1000
	p := filepath.Join(env.WorkDir, "big.log")
	writeNumberedLines(t, p, 5000)
	out := structured[TailFileOutput](t, callTool(t, env, "tail_file", map[string]any{"path": p, "lines": 5000}))
	if out.OmittedBytes == 0 || len(out.Output) > 1300 || !strings.HasSuffix(out.Output, "line 5000\n") || !strings.HasPrefix(out.Output, "line 1\n") {
		t.Errorf("cap: omitted %d, len %d", out.OmittedBytes, len(out.Output))
	}
}

func TestLineWriterLongLineAndFlush(t *testing.T) {
	t.Parallel()
	ht := NewHeadTail(1 << 22)
	lw := &lineWriter{w: ht, grep: "needle"}
	lw.Write([]byte("hay\nneed"))
	lw.Write([]byte("le one\nno\nlast needle"))
	lw.Flush()
	if ht.String() != "needle one\nlast needle\n" || lw.Lines() != 2 {
		t.Errorf("got %q (%d lines)", ht.String(), lw.Lines())
	}
}
