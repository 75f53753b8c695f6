package tools

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/servagent/servagent/internal/testutil/roottest"
)

// startSleep starts `sleep <secs>` and reaps it at the end of the test.
func startSleepChild(t *testing.T, secs string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", secs)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func TestListProcessesFindsChild(t *testing.T) {
	t.Parallel()
	cmd := startSleepChild(t, "317.25")
	res := callTool(t, newTestEnv(t), "list_processes", map[string]any{"filter": "317.25"})
	out := structured[ListProcessesOutput](t, res)
	if out.Matched != 1 || len(out.Processes) != 1 {
		t.Fatalf("want exactly the sleep child, got %+v", out)
	}
	p := out.Processes[0]
	if p.PID != cmd.Process.Pid || p.PPID != os.Getpid() || p.Name != "sleep" || p.Command != "sleep 317.25" {
		t.Errorf("wrong process fields: %+v", p)
	}
	if p.RSSBytes == 0 || !strings.HasPrefix(p.State, "S") {
		t.Errorf("rss/state not sane: %+v", p)
	}
	st, err := time.Parse(time.RFC3339, p.StartTime)
	if err != nil || time.Since(st) > time.Minute || time.Until(st) > 2*time.Second {
		t.Errorf("start time %q not RFC3339 near now: %v", p.StartTime, err)
	}
	if out.Total < 2 || !strings.Contains(out.CPUSample, "sample") {
		t.Errorf("total/cpu_sample: %+v", out)
	}
	if !strings.Contains(resultText(res), "sleep 317.25") {
		t.Errorf("text lacks the process: %s", resultText(res))
	}
}

// The reference ran `ps aux | grep <filter>` through a shell.
func TestListProcessesFilterIsNotAShell(t *testing.T) {
	t.Parallel()
	canary := filepath.Join(os.TempDir(), "pwned-"+sysRandName(t))
	for _, f := range []string{"x; touch " + canary, "$(touch " + canary + ")", "`touch " + canary + "`", "x | touch " + canary} {
		res := callTool(t, newTestEnv(t), "list_processes", map[string]any{"filter": f})
		out := structured[ListProcessesOutput](t, res)
		if out.Matched != 0 {
			t.Errorf("filter %q matched %d processes", f, out.Matched)
		}
	}
	if _, err := os.Stat(canary); !os.IsNotExist(err) {
		os.Remove(canary)
		t.Fatalf("filter was run by a shell: %s exists", canary)
	}
}

func TestListProcessesSortAndLimit(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	out := structured[ListProcessesOutput](t, callTool(t, env, "list_processes", map[string]any{"sort_by": "pid", "limit": 5}))
	if len(out.Processes) != min(5, out.Matched) || !slices.IsSortedFunc(out.Processes, func(a, b ProcessInfo) int { return a.PID - b.PID }) {
		t.Errorf("pid sort/limit wrong: %+v", out.Processes)
	}
	out = structured[ListProcessesOutput](t, callTool(t, env, "list_processes", map[string]any{"sort_by": "MEM"}))
	if !slices.IsSortedFunc(out.Processes, func(a, b ProcessInfo) int { return int(int64(b.RSSBytes) - int64(a.RSSBytes)) }) {
		t.Errorf("mem sort wrong")
	}
	toolError(t, callTool(t, env, "list_processes", map[string]any{"sort_by": "name"}), "sort_by must be cpu, mem or pid")
	toolError(t, callTool(t, env, "list_processes", map[string]any{"limit": -1}), "limit must be positive")
}

// Serial: parallel tests would take the CPU share the busy child must show.
func TestListProcessesCPUSample(t *testing.T) {
	// A busy child must show a visible CPU share; the bar is low because the
	// test machine is shared and -race slows everything.
	cmd := exec.Command("sh", "-c", "while :; do :; done", "busy-"+sysRandName(t))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(200 * time.Millisecond)
	out := structured[ListProcessesOutput](t, callTool(t, newTestEnv(t), "list_processes", map[string]any{"limit": 1000}))
	for _, p := range out.Processes {
		if p.PID == cmd.Process.Pid {
			if p.CPUPercent < 2 || p.CPUPercent > 100*float64(runtime.NumCPU())+5 {
				t.Errorf("busy loop shows %.1f%% CPU", p.CPUPercent)
			}
			return
		}
	}
	t.Fatalf("busy child %d not listed", cmd.Process.Pid)
}

func TestParseProcStatOddName(t *testing.T) {
	t.Parallel()
	line := "42 (a) (b c) S 7 42 42 0 -1 4194560 1 0 0 0 12 8 0 0 20 0 1 0 999 1000 55 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0"
	st, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.name != "a) (b c" || st.state != 'S' || st.ppid != 7 || st.cpuTicks != 20 || st.startTick != 999 || st.rssPages != 55 {
		t.Errorf("parsed %+v", st)
	}
	if _, err := parseProcStat([]byte("42 garbage")); err == nil {
		t.Error("garbage parsed")
	}
	if _, err := readProcStat(-5); err == nil {
		t.Error("vanished pid must be an error so the scan skips it")
	}
}

func TestKillProcessRefusals(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	cases := []struct {
		pid  int
		want string
	}{
		{1, "refusing to signal pid 1"},
		{os.Getpid(), "servagent itself"},
		{os.Getppid(), "servagent's parent"},
		{-1, "process group"},
		{-os.Getpid(), "process group"},
		{0, "pid is missing"},
		{1<<32 + 1, "out of range"}, // would truncate to pid 1 in kill(2)
		{1<<32 + os.Getpid(), "out of range"},
	}
	for _, c := range cases {
		toolError(t, callTool(t, env, "kill_process", map[string]any{"pid": c.pid, "signal": "KILL"}), c.want)
	}
	cmd := startSleepChild(t, "30")
	toolError(t, callTool(t, env, "kill_process", map[string]any{"pid": cmd.Process.Pid, "signal": "BOGUS"}), "unknown signal")
	toolError(t, callTool(t, env, "kill_process", map[string]any{"pid": cmd.Process.Pid, "signal": "99"}), "out of range")
	toolError(t, callTool(t, env, "kill_process", map[string]any{"pid": cmd.Process.Pid, "signal": "TERM; rm -rf /"}), "unknown signal")
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("a refused call still signalled the child: %v", err)
	}
}

func TestKillProcessTerminatesChild(t *testing.T) {
	t.Parallel()
	for _, sig := range []string{"", "SIGTERM", "term", "9", "KILL", "INT"} {
		t.Run("sig="+sig, func(t *testing.T) {
			t.Parallel()
			cmd := startSleepChild(t, "30")
			args := map[string]any{"pid": cmd.Process.Pid}
			if sig != "" {
				args["signal"] = sig
			}
			res := callTool(t, newTestEnv(t), "kill_process", args)
			out := structured[KillProcessOutput](t, res)
			if out.Exited == nil || !*out.Exited || out.Name != "sleep" {
				t.Errorf("result %+v: %s", out, resultText(res))
			}
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("sleep was not killed: %v", err)
			}
			ws := ee.Sys().(syscall.WaitStatus)
			want := map[string]syscall.Signal{"": syscall.SIGTERM, "SIGTERM": syscall.SIGTERM, "term": syscall.SIGTERM, "9": syscall.SIGKILL, "KILL": syscall.SIGKILL, "INT": syscall.SIGINT}[sig]
			if !ws.Signaled() || ws.Signal() != want {
				t.Errorf("child ended with %v, want %v", ws, want)
			}
		})
	}
}

// Serial: the state change is awaited by a fixed 50 ms sleep.
func TestKillProcessStopCont(t *testing.T) {
	cmd := startSleepChild(t, "30")
	env := newTestEnv(t)
	out := structured[KillProcessOutput](t, callTool(t, env, "kill_process", map[string]any{"pid": cmd.Process.Pid, "signal": "STOP"}))
	if out.Exited != nil || out.Signal != "SIGSTOP" {
		t.Errorf("STOP result %+v", out)
	}
	time.Sleep(50 * time.Millisecond)
	if st, _ := readProcStat(cmd.Process.Pid); st.state != 'T' {
		t.Errorf("state after STOP = %c", st.state)
	}
	structured[KillProcessOutput](t, callTool(t, env, "kill_process", map[string]any{"pid": cmd.Process.Pid, "signal": "18"}))
	time.Sleep(50 * time.Millisecond)
	if st, _ := readProcStat(cmd.Process.Pid); st.state == 'T' {
		t.Error("still stopped after signal 18 (CONT)")
	}
}

// TestKillProcessRefusesOwnThreads: kill(2) on a thread id signals the whole
// process, so servagent's thread ids are refused like its pid (the review
// shut the server down with a TERM to a TID).
// Serial: without the refusal it signals this process's own threads.
func TestKillProcessRefusesOwnThreads(t *testing.T) {
	env := newTestEnv(t)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if tid == os.Getpid() {
			continue
		}
		tried++
		// SIGWINCH: harmless to this test binary if the refusal were missing.
		toolError(t, callTool(t, env, "kill_process", map[string]any{"pid": tid, "signal": "28"}),
			fmt.Sprintf("a thread of process %d", os.Getpid()), "servagent itself")
	}
	if tried == 0 {
		t.Fatal("the test process has no thread besides its main one")
	}
}

func TestKillProcessNoSuchProcess(t *testing.T) {
	t.Parallel()
	pid := 4_000_000
	for ; pid > 1000; pid-- {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); os.IsNotExist(err) {
			break
		}
	}
	toolError(t, callTool(t, newTestEnv(t), "kill_process", map[string]any{"pid": pid}), "no such process", "list_processes")
}

func TestKillErrorMapping(t *testing.T) {
	t.Parallel()
	err := killError(1234, "nginx", "SIGTERM", syscall.SIGTERM, syscall.EPERM)
	for _, want := range []string{"permission denied", "pid 1234 (nginx)", "sudo -n kill -15 1234", "execute_command"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("EPERM message %q lacks %q", err, want)
		}
	}
	err = killError(1234, "", "SIGKILL", syscall.SIGKILL, syscall.ESRCH)
	if !strings.Contains(err.Error(), "no such process") {
		t.Errorf("ESRCH message %q", err)
	}
}

// TestKillProcessEPERM produces a real EPERM: a copy of this test binary
// runs as nobody and asks kill_process to signal a root-owned sleep.
func TestKillProcessEPERM(t *testing.T) {
	t.Parallel()
	roottest.Need(t, "starts a helper as nobody")
	victim := startSleepChild(t, "30")
	dir := t.TempDir()
	bin := filepath.Join(dir, "tools.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := dir; d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // t.TempDir's parents are 0700
	}
	cmd := exec.Command(bin, "-test.run=^TestKillProcessEPERMHelper$", "-test.v")
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "SERVAGENT_EPERM_PID="+strconv.Itoa(victim.Process.Pid))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: roottest.Nobody, Gid: roottest.Nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("cannot run the helper as nobody here (%v): %s", err, out)
	}
	if !strings.Contains(string(out), "EPERM-MESSAGE: permission denied") || !strings.Contains(string(out), "sudo -n kill -15") {
		t.Fatalf("helper output:\n%s", out)
	}
	if err := victim.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("victim died: %v", err)
	}
}

func TestKillProcessEPERMHelper(t *testing.T) {
	pid, _ := strconv.Atoi(os.Getenv("SERVAGENT_EPERM_PID"))
	if pid == 0 {
		t.Skip("helper for TestKillProcessEPERM")
	}
	_, _, err := newTestEnv(t).killProcess(context.Background(), nil, KillProcessInput{PID: pid})
	fmt.Printf("EPERM-MESSAGE: %v\n", err)
}

// Short-lived processes come and go during the scan; they are skipped or
// listed whole, never half-read.
func TestListProcessesChurn(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			exec.Command("true").Run()
		}
	}()
	for range 3 {
		out := structured[ListProcessesOutput](t, callTool(t, newTestEnv(t), "list_processes", map[string]any{"limit": 1000}))
		for _, p := range out.Processes {
			if p.PID <= 0 || p.Name == "" || p.User == "" || p.StartTime == "" || p.Command == "" {
				t.Errorf("half-read process %+v", p)
			}
		}
	}
	close(stop)
	<-done
}

// The CPU sample window and the wait for a signalled process to exit both
// stop when the call is cancelled.
// Serial: it times the cancelled waits against a bound.
func TestProcessWaitsStopOnCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := sampleCPU(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("sampleCPU on a cancelled call: %v", err)
	}
	child := startSleepChild(t, "30")
	st, err := readProcStat(child.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if waitExit(ctx, child.Process.Pid, st, true, time.Minute) {
		t.Error("waitExit reports a running process as gone")
	}
	if d := time.Since(start); d > cpuSample {
		t.Errorf("the waits took %v after the call was cancelled", d)
	}
}
