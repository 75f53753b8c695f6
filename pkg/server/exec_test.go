package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/server/servertest"
	"github.com/servagent/servagent/pkg/tools"
)

func execOut(t *testing.T, cs *mcp.ClientSession, args map[string]any) (tools.ExecOutput, *mcp.CallToolResult) {
	t.Helper()
	res := call(t, cs, "execute_command", args)
	var out tools.ExecOutput
	if !res.IsError {
		structured(t, res, &out)
	}
	return out, res
}

func TestExecuteCommand(t *testing.T) {
	inst := start(t, map[string]string{"SERVAGENT_MAX_OUTPUT_SIZE": "2048", "SERVAGENT_COMMAND_TIMEOUT": "60"})
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	sub := filepath.Join(inst.Config.WorkDir, "sub")
	os.Mkdir(sub, 0o755)

	t.Run("exit code and stderr", func(t *testing.T) {
		out, res := execOut(t, cs, map[string]any{"command": "echo out; echo err >&2; exit 42"})
		if res.IsError || out.ExitCode != 42 || out.Stdout != "out\n" || out.Stderr != "err\n" || out.TimedOut {
			t.Fatalf("%+v", out)
		}
	})
	t.Run("default work dir and override", func(t *testing.T) {
		out, _ := execOut(t, cs, map[string]any{"command": "pwd"})
		if strings.TrimSpace(out.Stdout) != inst.Config.WorkDir {
			t.Errorf("pwd = %q", out.Stdout)
		}
		out, _ = execOut(t, cs, map[string]any{"command": "pwd", "work_dir": "sub"})
		if strings.TrimSpace(out.Stdout) != sub {
			t.Errorf("pwd = %q, want %s", out.Stdout, sub)
		}
		_, res := execOut(t, cs, map[string]any{"command": "pwd", "work_dir": "missing"})
		if !res.IsError || !strings.Contains(text(res), "not an existing directory") {
			t.Errorf("missing work_dir: %v %s", res.IsError, text(res))
		}
	})
	t.Run("env and no secrets", func(t *testing.T) {
		t.Setenv("SERVAGENT_API_KEY", "leaky-secret-value")
		out, _ := execOut(t, cs, map[string]any{"command": `echo "$FOO|${SERVAGENT_API_KEY:-unset}"`, "env": map[string]any{"FOO": "bar baz"}})
		if out.Stdout != "bar baz|unset\n" {
			t.Errorf("stdout = %q", out.Stdout)
		}
	})
	t.Run("stdin given and empty by default", func(t *testing.T) {
		out, _ := execOut(t, cs, map[string]any{"command": "tr a-z A-Z", "stdin": "hello"})
		if out.Stdout != "HELLO" {
			t.Errorf("stdout = %q", out.Stdout)
		}
		out, _ = execOut(t, cs, map[string]any{"command": "cat; echo done", "timeout": 5})
		if out.Stdout != "done\n" || out.TimedOut {
			t.Errorf("cat without stdin: %+v", out)
		}
	})
	t.Run("head and tail kept when truncated", func(t *testing.T) {
		out, _ := execOut(t, cs, map[string]any{"command": "echo FIRST-LINE; seq 1 5000; echo LAST-ERROR-LINE"})
		if !strings.HasPrefix(out.Stdout, "FIRST-LINE\n") || !strings.HasSuffix(out.Stdout, "LAST-ERROR-LINE\n") {
			t.Errorf("head/tail lost: %q…%q", out.Stdout[:40], out.Stdout[len(out.Stdout)-40:])
		}
		if out.StdoutOmitted <= 0 || !strings.Contains(out.Stdout, fmt.Sprintf("%d bytes omitted", out.StdoutOmitted)) {
			t.Errorf("no omission marker (omitted=%d)", out.StdoutOmitted)
		}
		if len(out.Stdout) > 2048+300 {
			t.Errorf("stdout is %d bytes, cap is 2048", len(out.Stdout))
		}
	})
	t.Run("empty command is a tool error", func(t *testing.T) {
		_, res := execOut(t, cs, map[string]any{"command": "  "})
		if !res.IsError {
			t.Fatal("want isError")
		}
	})
}

// groupAlive reports whether any process is left in process group pgid.
func groupAlive(pgid int) []int {
	var left []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		// fields[0]=state [1]=ppid [2]=pgrp
		if len(fields) > 2 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" {
			left = append(left, pid)
		}
	}
	return left
}

// pgidIn is the process group id a test command wrote to dir/pgid with
// `echo $$ > pgid`; 0 while there is none.
func pgidIn(dir string) int {
	b, _ := os.ReadFile(filepath.Join(dir, "pgid"))
	pgid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pgid
}

// waitGroupGone fails the test if process group pgid still has a live
// process after within; what names what should have killed it.
func waitGroupGone(t *testing.T, pgid int, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(groupAlive(pgid)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := groupAlive(pgid); len(left) > 0 {
		t.Fatalf("processes of group %d survived %s: %v", pgid, what, left)
	}
}

func TestTimeoutKillsTheWholeGroup(t *testing.T) {
	inst := start(t, nil)
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	start := time.Now()
	out, res := execOut(t, cs, map[string]any{"command": "echo before; echo $$ > pgid; sleep 300 & sleep 300", "timeout": 1})
	if res.IsError || !out.TimedOut || out.Stdout != "before\n" {
		t.Fatalf("want timed_out with partial output, got %+v", out)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	if !strings.Contains(text(res), "TIMED OUT") {
		t.Errorf("text does not say it timed out: %s", text(res))
	}
	pgid := pgidIn(inst.Config.WorkDir)
	if pgid == 0 {
		t.Fatal("the command wrote no pgid")
	}
	waitGroupGone(t, pgid, 3*time.Second, "the timeout")
}

func TestCancellationKillsTheCommand(t *testing.T) {
	inst := start(t, nil)
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	ctx, cancel := context.WithCancel(context.Background())
	pgidFile := filepath.Join(inst.Config.WorkDir, "pgid")
	go func() {
		for {
			if _, err := os.Stat(pgidFile); err == nil {
				time.Sleep(100 * time.Millisecond)
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "execute_command", Arguments: map[string]any{"command": "echo $$ > pgid; sleep 300 & sleep 300"}})
	if err == nil {
		t.Fatal("want a cancellation error from the client")
	}
	waitGroupGone(t, pgidIn(inst.Config.WorkDir), 5*time.Second, "cancellation")
}

func TestProgressNotifications(t *testing.T) {
	inst := start(t, nil)
	var got atomic.Int32
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { got.Add(1) },
	})
	params := &mcp.CallToolParams{Name: "execute_command", Arguments: map[string]any{"command": "sleep 6"}}
	params.SetProgressToken("tok-1")
	if _, err := cs.CallTool(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	if got.Load() < 1 {
		t.Fatalf("no progress notification during a 6 s command")
	}
}

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(entries)
}

func zombies() int {
	n := 0
	entries, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+2:])
		if len(f) > 1 && f[0] == "Z" && f[1] == me {
			n++
		}
	}
	return n
}

func TestNoZombiesNoFDLeaks(t *testing.T) {
	inst := start(t, nil)
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	execOut(t, cs, map[string]any{"command": "true"})
	before := openFDs(t)
	n := 1000
	if testing.Short() {
		n = 100
	}
	for i := range n {
		cmd := "echo hi"
		if i%10 == 0 {
			cmd = "sleep 0.01 & echo bg" // a child that outlives the shell briefly
		}
		execOut(t, cs, map[string]any{"command": cmd})
	}
	time.Sleep(200 * time.Millisecond)
	if z := zombies(); z != 0 {
		t.Errorf("%d zombie children after %d calls", z, n)
	}
	if after := openFDs(t); after > before+5 {
		t.Errorf("open fds grew from %d to %d over %d calls", before, after, n)
	}
}

// TestSessionCloseKillsRunningCommand ends the MCP session while a command
// runs — DELETE /mcp for Streamable HTTP, dropping the event stream for SSE —
// and checks that the command's process group dies at once. (The go-sdk
// client's Close waits for its pending calls, so the session is ended here
// the way a client that gives up does it: over raw HTTP.)
func TestSessionCloseKillsRunningCommand(t *testing.T) {
	longCmd := map[string]any{"command": "echo $$ > pgid; sleep 300 & sleep 300"}
	waitPgid := func(t *testing.T, dir string) int {
		for i := 0; i < 250; i++ {
			if pgid := pgidIn(dir); pgid != 0 {
				return pgid
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("command did not start")
		return 0
	}
	waitGone := func(t *testing.T, pgid int) { waitGroupGone(t, pgid, 10*time.Second, "the session") }
	t.Run("streamable DELETE", func(t *testing.T) {
		inst := start(t, nil)
		cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
		go cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "execute_command", Arguments: longCmd})
		pgid := waitPgid(t, inst.Config.WorkDir)
		// Another credential cannot end the session.
		del := func(key string) int {
			req, _ := http.NewRequest("DELETE", inst.URL+"/mcp", nil)
			req.Header.Set("Mcp-Session-Id", cs.ID())
			req.Header.Set("Authorization", "Bearer "+key)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			resp, err := http.DefaultClient.Do(req.WithContext(ctx))
			if err != nil {
				t.Fatalf("DELETE: %v", err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if code := del("wrong"); code != 401 || len(groupAlive(pgid)) == 0 {
			t.Fatalf("DELETE with a wrong key: %d, group alive: %v", code, groupAlive(pgid))
		}
		if code := del(inst.Key); code >= 300 {
			t.Fatalf("DELETE: %d", code)
		}
		waitGone(t, pgid)
	})
	t.Run("sse stream dropped", func(t *testing.T) {
		inst := start(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", inst.URL+"/sse", nil)
		req.Header.Set("Authorization", "Bearer "+inst.Key)
		resp := send(t, req)
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		var endpoint string
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				endpoint = v
			}
		}
		post := func(body string) {
			r, _ := http.NewRequest("POST", inst.URL+endpoint, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+inst.Key)
			res, err := http.DefaultClient.Do(r)
			if err != nil || res.StatusCode != 202 {
				t.Fatalf("POST %s: %v %v", body, err, res)
			}
			res.Body.Close()
		}
		post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
		post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		args, _ := json.Marshal(longCmd)
		post(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"execute_command","arguments":` + string(args) + `}}`)
		pgid := waitPgid(t, inst.Config.WorkDir)
		cancel() // the client goes away
		waitGone(t, pgid)
	})
}
