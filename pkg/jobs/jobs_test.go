package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/servagent/servagent/pkg/logtest"
	"github.com/servagent/servagent/pkg/runner"
)

func newManager(t *testing.T, opts Options) *Manager {
	t.Helper()
	if opts.Runner == nil {
		opts.Runner = runner.New()
		opts.Runner.Grace = 300 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = discardLogger()
	}
	m := NewManager(opts)
	t.Cleanup(func() { m.Shutdown() })
	return m
}

func start(t *testing.T, m *Manager, owner string, spec Spec) *Job {
	t.Helper()
	if spec.Env == nil {
		spec.Env = os.Environ()
	}
	j, err := m.Start(owner, spec)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// readAll reads with waits until the job ends, concatenating what each read returns.
func readAll(t *testing.T, j *Job) (stdout, stderr string, last Status) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var out, errb strings.Builder
	for {
		st := j.Read(context.Background(), ReadOptions{Wait: 2 * time.Second})
		out.WriteString(st.Stdout)
		errb.WriteString(st.Stderr)
		if !st.Running {
			return out.String(), errb.String(), st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still running; output so far %q", out.String())
		}
	}
}

// readUntil reads until stdout (accumulated) contains want.
func readUntil(t *testing.T, j *Job, want string) (string, Status) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var out strings.Builder
	for {
		st := j.Read(context.Background(), ReadOptions{Wait: time.Second})
		out.WriteString(st.Stdout)
		if strings.Contains(out.String(), want) {
			return out.String(), st
		}
		if !st.Running || time.Now().After(deadline) {
			t.Fatalf("no %q in %q (running %v)", want, out.String(), st.Running)
		}
	}
}

func TestOutputArrivesInOrderAcrossReads(t *testing.T) {
	m := newManager(t, Options{})
	j := start(t, m, "k", Spec{Script: `for i in $(seq 1 40); do echo out$i; echo err$i >&2; sleep 0.005; done; exit 3`})
	stdout, stderr, st := readAll(t, j)
	var wantOut, wantErr strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&wantOut, "out%d\n", i)
		fmt.Fprintf(&wantErr, "err%d\n", i)
	}
	if stdout != wantOut.String() || stderr != wantErr.String() {
		t.Fatalf("stdout %q\nstderr %q", stdout, stderr)
	}
	if st.ExitCode == nil || *st.ExitCode != 3 || st.NextOffset != int64(len(stdout)+len(stderr)) {
		t.Fatalf("%+v", st)
	}
	// A read from an offset returns the same bytes again.
	zero := int64(0)
	again := j.Read(context.Background(), ReadOptions{Since: &zero})
	if again.Stdout != stdout || again.Stderr != stderr {
		t.Fatalf("since 0: %q", again.Stdout)
	}
	end := st.NextOffset
	if s := j.Read(context.Background(), ReadOptions{Since: &end}); s.Stdout != "" || s.Stderr != "" || s.NextOffset != end {
		t.Fatalf("since the end: %+v", s)
	}
	j2 := start(t, m, "k", Spec{Script: `echo one; echo two`})
	<-j2.Done()
	four := int64(4)
	if s := j2.Read(context.Background(), ReadOptions{Since: &four}); s.Stdout != "two\n" {
		t.Fatalf("since 4: %q", s.Stdout)
	}
}

func TestLogKeepsHeadAndTailAndCountsTheCut(t *testing.T) {
	l := NewLog(1000)
	for i := 0; i < 100; i++ {
		l.Write(Stream(i%2), bytes.Repeat([]byte{byte('a' + i%26)}, 100))
	}
	if l.Size() != 10000 || l.Dropped() != 9000 {
		t.Fatalf("size %d dropped %d", l.Size(), l.Dropped())
	}
	c := l.ReadFrom(0)
	if c.Skipped != 9000 || !strings.Contains(c.Stdout, "[... 9000 bytes of output dropped") || c.Next != 10000 {
		t.Fatalf("%+v", c)
	}
	kept := len(c.Stdout) + len(c.Stderr) - len("\n[... 9000 bytes of output dropped (buffer full) ...]\n")
	if kept != 1000 {
		t.Fatalf("kept %d bytes", kept)
	}
	// head: bytes 0..499 (a×100 to stdout, b to stderr, ...); tail: the last 500.
	if !strings.HasPrefix(c.Stdout, strings.Repeat("a", 100)+strings.Repeat("c", 100)) || !strings.HasSuffix(c.Stderr, strings.Repeat("v", 100)) {
		t.Fatalf("stdout %q… stderr …%q", c.Stdout[:20], c.Stderr[len(c.Stderr)-20:])
	}
	// One write larger than the buffer keeps only its end.
	l2 := NewLog(100)
	l2.Write(Stdout, []byte(strings.Repeat("x", 50)+strings.Repeat("y", 1000)))
	if c := l2.ReadFrom(0); c.Stdout != strings.Repeat("x", 50)+"\n[... 950 bytes of output dropped (buffer full) ...]\n"+strings.Repeat("y", 50) {
		t.Fatalf("%q", c.Stdout)
	}
}

func TestReadWaitsForOutputAndReturnsAsSoonAsItArrives(t *testing.T) {
	m := newManager(t, Options{})
	j := start(t, m, "k", Spec{Script: `sleep 0.3; echo hi; sleep 30`})
	t0 := time.Now()
	st := j.Read(context.Background(), ReadOptions{Wait: 10 * time.Second})
	if d := time.Since(t0); st.Stdout != "hi\n" || d > 3*time.Second || d < 250*time.Millisecond {
		t.Fatalf("%q after %v", st.Stdout, d)
	}
	// No new output: the read waits its whole wait and returns nothing.
	t0 = time.Now()
	st = j.Read(context.Background(), ReadOptions{Wait: 200 * time.Millisecond})
	if d := time.Since(t0); st.Stdout != "" || !st.Running || d < 200*time.Millisecond {
		t.Fatalf("%+v after %v", st, d)
	}
	// The end wakes a waiting read.
	go func() { time.Sleep(100 * time.Millisecond); j.Kill(0) }()
	st = j.Read(context.Background(), ReadOptions{Wait: 10 * time.Second})
	if st.Running || st.Signal != "terminated" {
		t.Fatalf("%+v", st)
	}
}

func TestPTYJobHasATerminal(t *testing.T) {
	m := newManager(t, Options{})
	j := start(t, m, "k", Spec{PTY: true, Script: `test -t 0 && test -t 1 && echo IS_TTY; echo "TERM=$TERM"; stty size; ps -o stat= -p $$`})
	out, _, st := readAll(t, j)
	if !strings.Contains(out, "IS_TTY") || !strings.Contains(out, "TERM=xterm-256color") || !strings.Contains(out, "40 120") {
		t.Fatalf("%q", out)
	}
	if !strings.Contains(out, "s+") { // session leader, in the foreground group of its terminal
		t.Errorf("ps stat: %q", out)
	}
	if *st.ExitCode != 0 {
		t.Fatalf("%+v", st)
	}
	j2 := start(t, m, "k", Spec{PTY: true, Cols: 80, Rows: 24, Script: `stty size`})
	if out, _, _ := readAll(t, j2); !strings.Contains(out, "24 80") {
		t.Fatalf("%q", out)
	}
}

func TestPythonInputIsReportedWaitingAndAnswered(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	m := newManager(t, Options{})
	j := start(t, m, "k", Spec{PTY: true, Script: `python3 -c 'import time; time.sleep(0.3); name = input("Name: "); print("hello", name)'`})
	st := j.Read(context.Background(), ReadOptions{Wait: 100 * time.Millisecond})
	if st.WaitingForInput {
		t.Fatal("waiting_for_input while python sleeps")
	}
	_, st = readUntil(t, j, "Name: ")
	if !st.WaitingForInput {
		t.Fatalf("python3 input() not reported waiting: %+v", st)
	}
	if _, err := j.Input("bob", []string{"enter"}); err != nil {
		t.Fatal(err)
	}
	out, _, st := readAll(t, j)
	if !strings.Contains(out, "hello bob") || *st.ExitCode != 0 || st.WaitingForInput {
		t.Fatalf("%q %+v", out, st)
	}
}

func TestBashReadPromptIsWaitingAndAnsweredWithPlainOutput(t *testing.T) {
	m := newManager(t, Options{})
	j := start(t, m, "k", Spec{PTY: true, Script: `printf '\033[1;32mready\033[0m\n'; read -p 'Continue? ' a; echo "answer=$a"`})
	_, st := readUntil(t, j, "Continue? ")
	if !st.WaitingForInput {
		t.Fatalf("read -p not reported waiting: %+v", st)
	}
	j.Input("yes", []string{"enter"})
	zero := int64(0)
	<-j.Done()
	plain := j.Read(context.Background(), ReadOptions{Since: &zero, Plain: true})
	raw := j.Read(context.Background(), ReadOptions{Since: &zero})
	if !strings.Contains(raw.Stdout, "\x1b[1;32m") || strings.Contains(plain.Stdout, "\x1b") || !strings.Contains(plain.Stdout, "ready\nContinue? yes\nanswer=yes\n") {
		t.Fatalf("raw %q\nplain %q", raw.Stdout, plain.Stdout)
	}
}

func TestCtrlCReachesTheForegroundProgram(t *testing.T) {
	m := newManager(t, Options{})
	j := start(t, m, "k", Spec{PTY: true, Script: `echo start; sleep 100; echo after-sleep`})
	readUntil(t, j, "start")
	time.Sleep(100 * time.Millisecond) // let sleep start
	if _, err := j.Input("", []string{"ctrl-c"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-j.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("ctrl-c did not end sleep")
	}
	st := j.Read(context.Background(), ReadOptions{})
	if st.Running || (st.Signal != "interrupt" && *st.ExitCode != 130) {
		t.Fatalf("%+v", st)
	}
}

func TestKillEndsTheWholeJob(t *testing.T) {
	m := newManager(t, Options{})
	pidfile := filepath.Join(t.TempDir(), "pids")
	for _, pty := range []bool{false, true} {
		os.Remove(pidfile)
		j := start(t, m, "k", Spec{PTY: pty, Script: `sleep 300 & echo $! >>` + pidfile + `; (trap '' TERM INT HUP; exec sleep 301) & echo $! >>` + pidfile + `; echo up; wait`})
		readUntil(t, j, "up")
		t0 := time.Now()
		j.Kill(0)
		if d := time.Since(t0); d > 3*time.Second {
			t.Errorf("kill took %v", d)
		}
		data, _ := os.ReadFile(pidfile)
		for _, f := range strings.Fields(string(data)) {
			pid, _ := strconv.Atoi(f)
			waitGone(t, pid)
		}
		if _, err := j.Input("x", nil); !errors.Is(err, ErrEnded) {
			t.Fatalf("input to an ended job: %v", err)
		}
	}
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if i := bytes.LastIndexByte(data, ')'); i > 0 && data[i+2] == 'Z' {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("pid %d survived", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestInputWithoutATerminal(t *testing.T) {
	m := newManager(t, Options{})
	j := start(t, m, "k", Spec{OpenStdin: true, Script: `read x; echo "got $x"; cat; echo cat-done`})
	j.Input("abc", []string{"enter"})
	readUntil(t, j, "got abc")
	j.Input("more\n", []string{"ctrl-d"}) // EOF ends cat
	out, _, st := readAll(t, j)
	if !strings.Contains(out, "more\ncat-done") || *st.ExitCode != 0 {
		t.Fatalf("%q %+v", out, st)
	}
	j2 := start(t, m, "k", Spec{OpenStdin: true, Script: `sleep 100`})
	if _, err := j2.Input("", []string{"up"}); err == nil || !strings.Contains(err.Error(), "pty: true") {
		t.Fatalf("arrow key without a terminal: %v", err)
	}
	if _, err := j2.Input("", []string{"f13"}); err == nil || !strings.Contains(err.Error(), "ctrl-c") {
		t.Fatalf("unknown key: %v", err)
	}
	j2.Input("", []string{"ctrl-c"})
	<-j2.Done()
	if st := j2.Read(context.Background(), ReadOptions{}); st.Signal != "interrupt" {
		t.Fatalf("ctrl-c without a terminal: %+v", st)
	}
}

func TestOwnersLimitsAndRetention(t *testing.T) {
	m := newManager(t, Options{MaxJobs: 2, Retention: 300 * time.Millisecond, SlotWait: -1})
	a := start(t, m, "api_key:a", Spec{Script: `sleep 100`, Display: "sleep"})
	start(t, m, "api_key:a", Spec{Script: `sleep 100`})
	if _, err := m.Start("oauth:b", Spec{Script: `true`}); !errors.Is(err, ErrTooMany) || !strings.Contains(err.Error(), "SERVAGENT_MAX_JOBS") {
		t.Fatalf("third job: %v", err)
	}
	if _, err := m.Get("oauth:b", a.ID); !errors.Is(err, ErrOtherOwner) {
		t.Fatalf("other owner: %v", err)
	}
	if l := m.List("oauth:b"); len(l) != 0 {
		t.Fatalf("other owner lists %+v", l)
	}
	if l := m.List("api_key:a"); len(l) != 2 || l[0].ID != a.ID || l[0].Command != "sleep" || !l[0].Running {
		t.Fatalf("%+v", l)
	}
	a.Kill(0)
	b := start(t, m, "oauth:b", Spec{Script: `echo done`})
	<-b.Done()
	if got, err := m.Get("oauth:b", b.ID); err != nil || got != b {
		t.Fatalf("finished job: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := m.Get("oauth:b", b.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after retention: %v", err)
	}
	if _, err := m.Get("api_key:a", "job_nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "list_jobs") {
		t.Fatalf("unknown: %v", err)
	}
}

func TestShutdownKillsEveryJobAndCountsThem(t *testing.T) {
	m := newManager(t, Options{})
	pidfile := filepath.Join(t.TempDir(), "pids")
	for i := 0; i < 3; i++ {
		start(t, m, "k", Spec{PTY: i == 1, Script: `(trap '' TERM HUP; exec sleep 300) & echo $! >>` + pidfile + `; wait`})
	}
	done := start(t, m, "k", Spec{Script: `true`})
	<-done.Done()
	deadline := time.Now().Add(5 * time.Second)
	for data, _ := os.ReadFile(pidfile); len(strings.Fields(string(data))) < 3; data, _ = os.ReadFile(pidfile) {
		if time.Now().After(deadline) {
			t.Fatalf("pids: %q", data)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := m.Shutdown(); n != 3 {
		t.Fatalf("Shutdown killed %d jobs, want 3", n)
	}
	data, _ := os.ReadFile(pidfile)
	for _, f := range strings.Fields(string(data)) {
		pid, _ := strconv.Atoi(f)
		waitGone(t, pid)
	}
	if _, err := m.Start("k", Spec{Script: "true"}); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("start after shutdown: %v", err)
	}
}

func TestAuditLinesNeverHoldTheInput(t *testing.T) {
	var buf logtest.Buffer
	m := newManager(t, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	j := start(t, m, "api_key:x", Spec{OpenStdin: true, Script: `read -s pw; echo ok`, Display: "read"})
	j.Input("hunter2-secret", []string{"enter"})
	readAll(t, j)
	log := buf.String()
	for _, want := range []string{"msg=\"job start\" job=" + j.ID, "command=read", "msg=\"job input\" job=" + j.ID, "bytes=15", "msg=\"job end\" job=" + j.ID, "exit_code=0"} {
		if !strings.Contains(log, want) {
			t.Errorf("no %q in\n%s", want, log)
		}
	}
	if strings.Contains(log, "hunter2") {
		t.Fatalf("input text in the audit log:\n%s", log)
	}
}

func TestPlainStripsEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"\x1b[1;31mred\x1b[0m\r\n":           "red\n",
		"\x1b]0;title\x07prompt$ ":           "prompt$ ",
		"a\x1b(Bb\x1b=c":                     "abc",
		"50%\r100%\n":                        "50%\n100%\n",
		"tab\there\x1b[2K\x1b[?25l":          "tab\there",
		"plain text, nothing to do":          "plain text, nothing to do",
		"caf\u00e9 \x1b]8;;http://x\x1b\\ok": "caf\u00e9 ok",
	} {
		if got := Plain(in); got != want {
			t.Errorf("Plain(%q) = %q, want %q", in, got, want)
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestStdinModes(t *testing.T) {
	m := newManager(t, Options{})
	// Given text, then EOF: what execute_command's stdin argument does.
	j := start(t, m, "k", Spec{Stdin: "line1\nline2\n", Script: `cat; echo eof`})
	if out, _, _ := readAll(t, j); out != "line1\nline2\neof\n" {
		t.Fatalf("%q", out)
	}
	// No stdin: /dev/null, and input is refused with what to do instead.
	j = start(t, m, "k", Spec{Script: `cat; echo eof; sleep 100`})
	readUntil(t, j, "eof")
	if _, err := j.Input("x", nil); err == nil || !strings.Contains(err.Error(), "pty: true") {
		t.Fatalf("input without stdin: %v", err)
	}
	// A terminal gets the given text as typed input.
	j = start(t, m, "k", Spec{PTY: true, Stdin: "typed\r", Script: `read a; echo "got:$a"`})
	if out, _, _ := readAll(t, j); !strings.Contains(out, "got:typed") {
		t.Fatalf("%q", out)
	}
}

// Attached jobs count against MaxJobs from their start (limit_test.go) but
// show in List only once detached; one that ended does not detach.
func TestAttachedJobsListedOnceDetached(t *testing.T) {
	m := newManager(t, Options{MaxJobs: 2, SlotWait: -1})
	a := start(t, m, "k", Spec{Attached: true, Script: `sleep 100`})
	b := start(t, m, "k", Spec{Attached: true, Script: `sleep 100`})
	if m.Running() != 2 || len(m.List("k")) != 0 {
		t.Fatalf("attached jobs: running %d, listed %v", m.Running(), m.List("k"))
	}
	if !a.Detach() || m.Running() != 2 || len(m.List("k")) != 1 {
		t.Fatalf("after detach: %d %v", m.Running(), m.List("k"))
	}
	if _, err := m.Start("k", Spec{Script: `true`}); !errors.Is(err, ErrTooMany) {
		t.Fatalf("limit: %v", err)
	}
	if _, err := m.Start("k", Spec{Attached: true, Script: `true`}); !errors.Is(err, ErrTooMany) {
		t.Fatalf("limit for an attached command: %v", err)
	}
	if !b.Detach() || m.Running() != 2 {
		t.Fatalf("detaching a counted job changed the count: %d", m.Running())
	}
	a.Kill(0)
	b.Kill(0)
	if m.Running() != 0 {
		t.Fatalf("running %d after the end", m.Running())
	}
	c := start(t, m, "k", Spec{Attached: true, Script: `true`})
	<-c.Done()
	if c.Detach() || m.Running() != 0 {
		t.Fatal("an ended job detached")
	}
	m.Forget(c)
	if _, err := m.Get("k", c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("forgotten: %v", err)
	}
}

// An interactive shell on the terminal runs each pipeline in a process group
// of its own: kill still reaches them (the whole session).
func TestKillReachesOtherGroupsOfTheTerminalSession(t *testing.T) {
	m := newManager(t, Options{})
	pidfile := filepath.Join(t.TempDir(), "pids")
	j := start(t, m, "k", Spec{PTY: true, Script: `set -m; (trap '' TERM HUP; exec sleep 305) & echo $! >` + pidfile + `; echo up; wait`})
	readUntil(t, j, "up")
	data, _ := os.ReadFile(pidfile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if st, ok := readStat(pid); !ok || st.pgrp == j.proc.Pid() {
		t.Fatalf("set -m did not give the child a group of its own: %+v", st)
	}
	j.Kill(0)
	waitGone(t, pid)
}

// A background child that keeps the terminal open does not keep a PTY job
// from ending when its shell exits.
func TestPTYJobEndsWhileABackgroundChildHoldsTheTerminal(t *testing.T) {
	m := newManager(t, Options{})
	pidfile := filepath.Join(t.TempDir(), "pid")
	j := start(t, m, "k", Spec{PTY: true, Script: `sleep 306 & echo $! >` + pidfile + `; echo started`})
	select {
	case <-j.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the job did not end after its shell exited")
	}
	data, _ := os.ReadFile(pidfile)
	if pid, _ := strconv.Atoi(strings.TrimSpace(string(data))); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	st := j.Read(context.Background(), ReadOptions{})
	if *st.ExitCode != 0 || !strings.Contains(st.Stdout, "started") {
		t.Fatalf("%+v", st)
	}
}

// Input to a program that does not read fails after a while instead of
// blocking the call (and the end of the job) for ever.
func TestInputToAJobThatDoesNotReadFails(t *testing.T) {
	m := newManager(t, Options{})
	for _, pty := range []bool{false, true} {
		j := start(t, m, "k", Spec{PTY: pty, OpenStdin: true, Script: `sleep 100`})
		t0 := time.Now()
		_, err := j.Input(strings.Repeat("x", 1<<20), nil)
		if time.Since(t0) > 10*time.Second {
			t.Fatalf("pty=%v: input blocked %v", pty, time.Since(t0))
		}
		// A terminal discards what its full input queue cannot take; a pipe blocks.
		if !pty && (err == nil || !strings.Contains(err.Error(), "not reading its input")) {
			t.Fatalf("pipe: %v", err)
		}
		j.Kill(0)
	}
}

// Commands that end within their call are forgotten at once, output and
// all: memory does not grow with the number of commands run.
func TestForgottenJobsReleaseTheirOutput(t *testing.T) {
	m := newManager(t, Options{MaxOutput: 1 << 20})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 20; i++ {
		j := start(t, m, "k", Spec{Attached: true, Script: `head -c 1000000 /dev/zero`})
		<-j.Done()
		m.Forget(j)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 8<<20 {
		t.Fatalf("heap grew by %d MiB after 20 forgotten jobs of 1 MB each", grown>>20)
	}
}

func TestFinishedJobsKeptAreBounded(t *testing.T) {
	m := newManager(t, Options{MaxJobs: 1})
	var ids []string
	for i := 0; i < 6; i++ {
		j := start(t, m, "k", Spec{Script: `true`})
		<-j.Done()
		ids = append(ids, j.ID)
	}
	l := m.List("k")
	if len(l) != keptFinished {
		t.Fatalf("%d finished jobs kept, want %d", len(l), keptFinished)
	}
	if _, err := m.Get("k", ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("oldest kept: %v", err)
	}
	if _, err := m.Get("k", ids[5]); err != nil {
		t.Fatalf("newest forgotten: %v", err)
	}
}
