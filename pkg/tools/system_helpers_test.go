package tools

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/systemd"
)

// randName returns a unique marker for injection canaries.
func sysRandName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// resultJSON is the whole result as the client received it, to search for
// leaked values in text and structured content at once.
func sysResultJSON(t testing.TB, res *mcp.CallToolResult) string {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// callToolWithProgress is callTool with a progress token; it returns the
// number of progress notifications the client received.
func callToolWithProgress(t testing.TB, env *Env, name string, args map[string]any) (*mcp.CallToolResult, int64) {
	t.Helper()
	var progress atomic.Int64
	cs := connectTools(t, env, []string{name}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { progress.Add(1) },
	})
	p := &mcp.CallToolParams{Name: name, Arguments: args}
	p.SetProgressToken("tok-1")
	res, err := cs.CallTool(context.Background(), p)
	if err != nil {
		t.Fatalf("call %s: protocol error: %v", name, err)
	}
	return res, progress.Load()
}

// fakeSystemd points service_action and tail_file at fake systemctl,
// journalctl and sudo scripts in a temp dir that record their argv (one
// argument per line, "---" after each call) in argv.log, and pretends
// systemd is running. Files in the dir steer the fakes: "state" is printed
// for `show`, "exit"/"msg" make a non-show call fail.
func fakeSystemd(t *testing.T, env *Env) string {
	t.Helper()
	dir := t.TempDir()
	script := `#!/bin/sh
d=$(dirname "$0")
{ echo "$(basename "$0")"; for a in "$@"; do printf '%s\n' "$a"; done; echo ---; } >> "$d/argv.log"
if [ "$(basename "$0")" = sudo ]; then shift; exec "$@"; fi
for a in "$@"; do
  if [ "$a" = show ]; then
    if [ -f "$d/state" ]; then cat "$d/state"; else printf 'ActiveState=active\nSubState=running\n'; fi
    exit 0
  fi
done
if [ -f "$d/exit" ]; then cat "$d/msg" >&2; exit "$(cat "$d/exit")"; fi
echo "fake $(basename "$0") ok"
`
	for _, n := range []string{"systemctl", "journalctl", "sudo"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := filepath.Join(dir, "run-systemd-system")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	env.Systemd = systemd.Systemd{
		Systemctl:  filepath.Join(dir, "systemctl"),
		Journalctl: filepath.Join(dir, "journalctl"),
		Sudo:       filepath.Join(dir, "sudo"),
		RunDir:     run,
		Euid:       os.Geteuid,
	}
	env.SettleDelay = 10 * time.Millisecond
	return dir
}

// fakeCalls returns the argv of each recorded fake call, program name first.
func fakeCalls(t *testing.T, dir string) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "argv.log"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var calls [][]string
	var cur []string
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "---" {
			calls = append(calls, cur)
			cur = nil
			continue
		}
		cur = append(cur, line)
	}
	return calls
}

// processesWithArg lists live (non-zombie) pids whose command line contains
// s, to prove a child did not outlive its call.
func processesWithArg(s string) []int {
	pids, _ := listPIDs()
	var out []int
	for _, pid := range pids {
		st, err := readProcStat(pid)
		if err != nil || st.state == 'Z' {
			continue
		}
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if strings.Contains(string(b), s) {
			out = append(out, pid)
		}
	}
	return out
}
