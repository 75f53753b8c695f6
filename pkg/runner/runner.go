// Package runner runs shell commands in their own process group and makes
// sure that nothing they start outlives a timeout, a cancellation or the
// server's shutdown: the whole group gets SIGTERM, then SIGKILL after a grace.
package runner

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// DefaultGrace is how long a process group gets between SIGTERM and SIGKILL.
const DefaultGrace = 2 * time.Second

// pipeDrain bounds how long Run waits for output after the shell itself has
// exited: a daemon started with `cmd &` may keep the pipes open for ever.
const pipeDrain = 500 * time.Millisecond

// Runner tracks the process groups it started so Shutdown can end them.
type Runner struct {
	Grace time.Duration
	Shell []string // argv prefix; defaults to bash -c, or sh -c without bash

	mu     sync.Mutex
	groups map[int]struct{}
	closed bool
}

// New returns a Runner using bash (or sh when bash is missing).
func New() *Runner {
	return &Runner{Grace: DefaultGrace, Shell: DefaultShell(), groups: map[int]struct{}{}}
}

// DefaultShell returns the argv prefix used to run a command string.
func DefaultShell() []string {
	if p, err := exec.LookPath("bash"); err == nil {
		return []string{p, "-c"}
	}
	return []string{"/bin/sh", "-c"}
}

// Cmd is one command to run: a shell script, or an argv list run without a
// shell (every argument one argv element, never parsed).
type Cmd struct {
	Script  string   // passed to the shell as a single argv element
	Argv    []string // when set, run this program directly instead of the shell
	Dir     string
	Env     []string // full environment
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Timeout time.Duration
	// KillWithParent asks the kernel to SIGKILL the child if servagent dies
	// (for followers such as tail -F that would otherwise run for ever).
	KillWithParent bool
}

// Result says how a command ended.
type Result struct {
	ExitCode  int // -1 when killed by a signal or never started
	Signal    string
	TimedOut  bool
	Cancelled bool
	Duration  time.Duration
}

// ErrShuttingDown is returned by Run once Shutdown has been called.
var ErrShuttingDown = errors.New("server is shutting down")

// Run starts c and waits for it. The returned error is non-nil only when the
// command could not be started; a non-zero exit is reported in Result.
func (r *Runner) Run(ctx context.Context, c Cmd) (Result, error) {
	start := time.Now()
	argv := c.Argv
	if len(argv) == 0 {
		argv = append(append([]string{}, r.Shell...), c.Script)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	cmd.Stdin = c.Stdin // nil means /dev/null: never the server's own stdin
	cmd.Stdout = c.Stdout
	cmd.Stderr = c.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.KillWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	cmd.WaitDelay = pipeDrain

	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return Result{ExitCode: -1}, ErrShuttingDown
	}
	// Start outside the lock: fork/exec of concurrent calls must not queue.
	if err := cmd.Start(); err != nil {
		return Result{ExitCode: -1}, err
	}
	pgid := cmd.Process.Pid
	r.mu.Lock()
	if r.closed {
		// Shutdown ran while we were starting: it did not see this group.
		r.mu.Unlock()
		syscall.Kill(-pgid, syscall.SIGKILL)
		cmd.Wait()
		return Result{ExitCode: -1}, ErrShuttingDown
	}
	r.groups[pgid] = struct{}{}
	r.mu.Unlock()

	waitDone := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(waitDone)
	}()

	var timeout <-chan time.Time
	if c.Timeout > 0 {
		t := time.NewTimer(c.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	res := Result{}
	select {
	case <-waitDone:
	case <-timeout:
		res.TimedOut = true
		r.killGroup(pgid, waitDone)
	case <-ctx.Done():
		res.Cancelled = true
		r.killGroup(pgid, waitDone)
	}
	<-waitDone

	r.mu.Lock()
	delete(r.groups, pgid)
	r.mu.Unlock()

	res.Duration = time.Since(start)
	res.ExitCode = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal().String()
	}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return res, waitErr
	}
	return res, nil
}

// killGroup sends SIGTERM to the group, then SIGKILL after the grace period.
// The SIGKILL goes out even when the shell died on SIGTERM, because a
// grandchild that ignores SIGTERM would otherwise survive.
func (r *Runner) killGroup(pgid int, shellDone <-chan struct{}) {
	syscall.Kill(-pgid, syscall.SIGTERM)
	grace := r.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-t.C:
	case <-shellDone:
		// Give the rest of the group a moment to act on SIGTERM too.
		select {
		case <-t.C:
		case <-time.After(100 * time.Millisecond):
		}
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// Shutdown refuses new commands and ends every running process group:
// SIGTERM now, SIGKILL after the grace period.
func (r *Runner) Shutdown() {
	r.mu.Lock()
	r.closed = true
	pgids := make([]int, 0, len(r.groups))
	for g := range r.groups {
		pgids = append(pgids, g)
	}
	r.mu.Unlock()
	if len(pgids) == 0 {
		return
	}
	for _, g := range pgids {
		syscall.Kill(-g, syscall.SIGTERM)
	}
	time.Sleep(r.Grace)
	for _, g := range pgids {
		syscall.Kill(-g, syscall.SIGKILL)
	}
}

// Running returns the number of process groups in flight.
func (r *Runner) Running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.groups)
}
