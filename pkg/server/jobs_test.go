package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/logtest"
	"github.com/servagent/servagent/pkg/server"
	"github.com/servagent/servagent/pkg/server/servertest"
	"github.com/servagent/servagent/pkg/tools"
)

func readJob(t *testing.T, cs *mcp.ClientSession, args map[string]any) tools.JobOutput {
	t.Helper()
	res := call(t, cs, "read_job_output", args)
	if res.IsError {
		t.Fatalf("read_job_output: %s", text(res))
	}
	var out tools.JobOutput
	structured(t, res, &out)
	return out
}

// followJob reads with waits until the job ends; it returns all stdout.
func followJob(t *testing.T, cs *mcp.ClientSession, id string) (string, tools.JobOutput) {
	t.Helper()
	all, out, ok := pollJob(t, cs, id, 5, 30*time.Second, func(_ string, out tools.JobOutput) bool { return !out.Running })
	if !ok {
		t.Fatalf("job %s still running; output %q", id, all)
	}
	return all, out
}

// readJobUntil reads until stdout, accumulated after seen (what the
// execute_command call already returned), contains want.
func readJobUntil(t *testing.T, cs *mcp.ClientSession, id, seen, want string) tools.JobOutput {
	t.Helper()
	if strings.Contains(seen, want) {
		return tools.JobOutput{}
	}
	all, out, ok := pollJob(t, cs, id, 2, 15*time.Second, func(all string, _ tools.JobOutput) bool { return strings.Contains(seen+all, want) })
	if !ok {
		t.Fatalf("no %q in %q", want, all)
	}
	return out
}

// pollJob reads the job, waiting up to wait seconds a read, until done
// holds for the stdout accumulated so far and the last read; !ok means the
// job ended or within passed first.
func pollJob(t *testing.T, cs *mcp.ClientSession, id string, wait int, within time.Duration, done func(string, tools.JobOutput) bool) (all string, out tools.JobOutput, ok bool) {
	t.Helper()
	var b strings.Builder
	deadline := time.Now().Add(within)
	for {
		out = readJob(t, cs, map[string]any{"job_id": id, "wait_seconds": wait})
		b.WriteString(out.Stdout)
		if done(b.String(), out) {
			return b.String(), out, true
		}
		if !out.Running || time.Now().After(deadline) {
			return b.String(), out, false
		}
	}
}

func TestCommandYieldsAJobWhoseOutputArrivesInOrder(t *testing.T) {
	inst := start(t, map[string]string{"SERVAGENT_COMMAND_YIELD": "1"})
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	t0 := time.Now()
	script := `for i in $(seq 1 30); do echo line$i; sleep 0.1; done; exit 7`
	out, res := execOut(t, cs, map[string]any{"command": script})
	if d := time.Since(t0); res.IsError || !out.Running || out.JobID == "" || out.ExitCode != -1 || d > 2500*time.Millisecond {
		t.Fatalf("after %v: %+v %s", d, out, text(res))
	}
	if !strings.Contains(text(res), "STILL RUNNING as job "+out.JobID) {
		t.Errorf("text: %s", text(res))
	}
	rest, last := followJob(t, cs, out.JobID)
	var want strings.Builder
	for i := 1; i <= 30; i++ {
		want.WriteString("line" + strconv.Itoa(i) + "\n")
	}
	if out.Stdout+rest != want.String() {
		t.Fatalf("output across reads:\n%q\nwant\n%q", out.Stdout+rest, want.String())
	}
	if *last.ExitCode != 7 || last.NextOffset != int64(want.Len()) {
		t.Fatalf("%+v", last)
	}
	// since: re-read from an offset.
	again := readJob(t, cs, map[string]any{"job_id": out.JobID, "since": 0})
	if again.Stdout != want.String() {
		t.Fatalf("since 0: %q", again.Stdout)
	}
	// A command that ends before the yield is not a job.
	quick, _ := execOut(t, cs, map[string]any{"command": "echo quick"})
	if quick.Running || quick.JobID != "" || quick.Stdout != "quick\n" {
		t.Fatalf("%+v", quick)
	}
	var list tools.ListJobsOutput
	structured(t, call(t, cs, "list_jobs", nil), &list)
	if len(list.Jobs) != 1 || list.Jobs[0].JobID != out.JobID || list.Jobs[0].Running || list.Jobs[0].Command != "for…("+strconv.Itoa(len(script))+" chars)" {
		t.Fatalf("list_jobs: %+v", list)
	}
	// yield_after: 0 waits until the end as before.
	t0 = time.Now()
	full, _ := execOut(t, cs, map[string]any{"command": "sleep 1.5; echo done", "yield_after": 0})
	if full.Running || full.Stdout != "done\n" || time.Since(t0) < 1500*time.Millisecond {
		t.Fatalf("yield_after 0: %+v", full)
	}
}

func TestBackgroundJobOutlivesItsSession(t *testing.T) {
	inst := start(t, nil)
	cs1 := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	out, _ := execOut(t, cs1, map[string]any{"command": "sleep 1; echo later", "background": true})
	if !out.Running || out.JobID == "" {
		t.Fatalf("%+v", out)
	}
	cs1.Close()
	cs2 := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	all, last := followJob(t, cs2, out.JobID)
	if all != "later\n" || *last.ExitCode != 0 {
		t.Fatalf("%q %+v", all, last)
	}
}

func TestJobsOfAnotherCredentialAreInvisible(t *testing.T) {
	inst, token := startWithOAuth(t)
	keyCS := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	oauthCS := servertest.Connect(t, inst.URL, token, "streamable", nil)
	out, _ := execOut(t, keyCS, map[string]any{"command": "sleep 30", "background": true})
	for _, tool := range []string{"read_job_output", "write_job_input", "kill_job"} {
		args := map[string]any{"job_id": out.JobID}
		if tool == "write_job_input" {
			args["text"] = "x"
		}
		res := call(t, oauthCS, tool, args)
		if !res.IsError || !strings.Contains(text(res), "another API key or OAuth client") {
			t.Errorf("%s from another credential: %v %s", tool, res.IsError, text(res))
		}
	}
	var list tools.ListJobsOutput
	structured(t, call(t, oauthCS, "list_jobs", nil), &list)
	if len(list.Jobs) != 0 {
		t.Fatalf("another credential lists %+v", list)
	}
	structured(t, call(t, keyCS, "list_jobs", nil), &list)
	if len(list.Jobs) != 1 || !list.Jobs[0].Running {
		t.Fatalf("owner lists %+v", list)
	}
	if res := call(t, keyCS, "kill_job", map[string]any{"job_id": out.JobID}); res.IsError {
		t.Fatal(text(res))
	}
	res := call(t, keyCS, "read_job_output", map[string]any{"job_id": "job_000000000000"})
	if !res.IsError || !strings.Contains(text(res), "list_jobs") {
		t.Fatalf("unknown job: %s", text(res))
	}
}

func TestPTYJobPromptsAreAnswered(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	inst := start(t, map[string]string{"SERVAGENT_COMMAND_YIELD": "1"})
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	out, res := execOut(t, cs, map[string]any{"command": `test -t 0 && echo IS_A_TTY; python3 -c 'print("hello", input("Name: "))'`, "pty": true})
	if res.IsError || !out.Running {
		t.Fatalf("%+v %s", out, text(res))
	}
	st := tools.JobOutput{WaitingForInput: out.WaitingForInput}
	if !strings.Contains(out.Stdout, "Name: ") {
		st = readJobUntil(t, cs, out.JobID, "", "Name: ")
	}
	if !st.WaitingForInput {
		// The prompt may be out before python reads: ask again.
		st = readJob(t, cs, map[string]any{"job_id": out.JobID})
	}
	if !st.WaitingForInput {
		t.Fatalf("python3 input() not reported waiting_for_input: %+v", st)
	}
	w := call(t, cs, "write_job_input", map[string]any{"job_id": out.JobID, "text": "bob", "keys": []string{"enter"}})
	if w.IsError {
		t.Fatal(text(w))
	}
	all, last := followJob(t, cs, out.JobID)
	zero := readJob(t, cs, map[string]any{"job_id": out.JobID, "since": 0, "plain": true})
	if !strings.Contains(zero.Stdout, "IS_A_TTY\n") || !strings.Contains(all, "hello bob") || *last.ExitCode != 0 {
		t.Fatalf("%q / %q %+v", zero.Stdout, all, last)
	}
	if res := call(t, cs, "write_job_input", map[string]any{"job_id": out.JobID, "text": "late"}); !res.IsError || !strings.Contains(text(res), "has ended") {
		t.Fatalf("input to an ended job: %s", text(res))
	}
	// ctrl-c reaches the foreground program.
	out, _ = execOut(t, cs, map[string]any{"command": "echo go; sleep 100", "pty": true, "background": true})
	readJobUntil(t, cs, out.JobID, out.Stdout, "go")
	time.Sleep(100 * time.Millisecond)
	call(t, cs, "write_job_input", map[string]any{"job_id": out.JobID, "keys": []string{"ctrl-c"}})
	if _, last := followJob(t, cs, out.JobID); last.Running || (last.Signal != "interrupt" && *last.ExitCode != 130) {
		t.Fatalf("after ctrl-c: %+v", last)
	}
}

func TestKillJobKillsGrandchildren(t *testing.T) {
	inst := start(t, nil)
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	out, _ := execOut(t, cs, map[string]any{"command": `echo $$ > pgid; sleep 300 & (trap '' TERM; exec sleep 301) & echo up; wait`, "background": true})
	readJobUntil(t, cs, out.JobID, out.Stdout, "up")
	pgid := pgidIn(inst.Config.WorkDir)
	res := call(t, cs, "kill_job", map[string]any{"job_id": out.JobID})
	var k tools.JobOutput
	structured(t, res, &k)
	if k.Running || k.Signal == "" {
		t.Fatalf("%+v", k)
	}
	waitGroupGone(t, pgid, 5*time.Second, "kill_job")
}

func TestShutdownKillsJobsAndSaysHowMany(t *testing.T) {
	cfg := servertest.Config(t, nil)
	var logBuf logtest.Buffer
	inst := servertest.Start(t, server.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	out, _ := execOut(t, cs, map[string]any{"command": `echo $$ > pgid; (trap '' TERM; exec sleep 300) & echo up; wait`, "background": true})
	readJobUntil(t, cs, out.JobID, out.Stdout, "up")
	pgid := pgidIn(cfg.WorkDir)
	cs.Close()
	inst.Stop()
	if left := groupAlive(pgid); len(left) > 0 {
		t.Fatalf("job processes outlived the server: %v", left)
	}
	if !strings.Contains(logBuf.String(), `msg="killed running jobs" jobs=1`) {
		t.Fatalf("log:\n%s", logBuf.String())
	}
}

func TestExecuteCommandRefusesOverflowingTimeouts(t *testing.T) {
	inst := start(t, nil)
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	for _, args := range []map[string]any{
		{"command": "true", "timeout": 9300000000},
		{"command": "true", "yield_after": 9300000000},
		{"command": "true", "yield_after": -1},
		{"command": "true", "cols": 100},
	} {
		res := call(t, cs, "execute_command", args)
		if !res.IsError || !(strings.Contains(text(res), "between") || strings.Contains(text(res), "pty: true")) {
			t.Errorf("%v: %v %s", args, res.IsError, text(res))
		}
	}
}

func TestJobToolsComeWithExecuteCommand(t *testing.T) {
	names := func(env map[string]string) []string {
		inst := start(t, env)
		cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
		lt, err := cs.ListTools(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tl := range lt.Tools {
			out = append(out, tl.Name)
			if strings.Contains(tl.Name, "job") && (tl.Annotations == nil || tl.Title == "" || tl.OutputSchema == nil) {
				t.Errorf("%s: no annotations, title or output schema", tl.Name)
			}
		}
		return out
	}
	jobTools := []string{"read_job_output", "write_job_input", "kill_job", "list_jobs"}
	got := names(map[string]string{"SERVAGENT_TOOLS": "execute_command"})
	for _, n := range jobTools {
		if !slices.Contains(got, n) {
			t.Errorf("%s missing with execute_command: %v", n, got)
		}
	}
	got = names(map[string]string{"SERVAGENT_TOOLS": "read_file,list_jobs"})
	if !slices.Contains(got, "list_jobs") || slices.Contains(got, "read_job_output") || slices.Contains(got, "execute_command") {
		t.Errorf("named alone: %v", got)
	}
}

func TestReadJobOutputReportsProgressWhileWaiting(t *testing.T) {
	inst := start(t, nil)
	var got atomic.Int32
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { got.Add(1) },
	})
	out, _ := execOut(t, cs, map[string]any{"command": "sleep 7; echo end", "background": true})
	params := &mcp.CallToolParams{Name: "read_job_output", Arguments: map[string]any{"job_id": out.JobID, "wait_seconds": 30}}
	params.SetProgressToken("tok-read")
	t0 := time.Now()
	res, err := cs.CallTool(context.Background(), params)
	if err != nil || res.IsError {
		t.Fatal(err, text(res))
	}
	if d := time.Since(t0); d > 10*time.Second || !strings.Contains(text(res), "end") {
		t.Fatalf("after %v: %s", d, text(res))
	}
	if got.Load() < 1 {
		t.Fatal("no progress notification while read_job_output waited")
	}
}

// BenchmarkReadJobOutputLatency: from a job printing a line (its content is
// the time date(1) took just before) to a waiting read_job_output over MCP
// (loopback HTTP, go-sdk client) returning it. Target: p50 <= 20 ms.
func BenchmarkReadJobOutputLatency(b *testing.B) {
	inst := servertest.Start(b, server.Options{Config: servertest.Config(b, nil)})
	cs, err := servertest.Dial(context.Background(), inst.URL, inst.Key, "streamable", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "execute_command", Arguments: map[string]any{
		"command": `for i in $(seq ` + strconv.Itoa(b.N) + `); do sleep 0.02; date +%s%N; done`, "background": true}})
	if err != nil || res.IsError {
		b.Fatal(err)
	}
	var started tools.ExecOutput
	raw, _ := json.Marshal(res.StructuredContent)
	json.Unmarshal(raw, &started)
	var lat []time.Duration
	pending := ""
	for len(lat) < b.N {
		r, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "read_job_output", Arguments: map[string]any{"job_id": started.JobID, "wait_seconds": 5}})
		now := time.Now()
		if err != nil || r.IsError {
			b.Fatal(err)
		}
		var out tools.JobOutput
		raw, _ := json.Marshal(r.StructuredContent)
		json.Unmarshal(raw, &out)
		pending += out.Stdout
		got, rest, err := logtest.StampLatencies(pending, now)
		if err != nil {
			b.Fatal(err)
		}
		lat, pending = append(lat, got...), rest
		if !out.Running && len(lat) < b.N && pending == "" {
			b.Fatalf("job ended after %d lines", len(lat))
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(0, "ns/op")
}
