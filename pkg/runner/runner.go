// Package runner runs shell commands so that nothing they start outlives a
// timeout, a cancellation or the server's shutdown. Each command runs in its
// own process group (or session, on a terminal) and, where servagent has a
// delegated cgroup v2 subtree, in its own cgroup: the group and the cgroup
// get SIGTERM, then SIGKILL (cgroup.kill) after a grace. Without a cgroup, a
// process that leaves the group (setsid, a double-forking daemon) escapes.
package runner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// DefaultGrace is how long a process group gets between SIGTERM and SIGKILL.
const DefaultGrace = 2 * time.Second

// pipeDrain bounds how long Run waits for output after the shell itself has
// exited: a daemon started with `cmd &` may keep the pipes open for ever.
const pipeDrain = 500 * time.Millisecond

// Runner tracks the processes it started so Shutdown can end them.
type Runner struct {
	Grace time.Duration
	Shell []string // argv prefix; defaults to bash -c, or sh -c without bash
	// Cgroups, when set, puts every command in its own cgroup below it.
	Cgroups *Cgroups

	mu        sync.Mutex
	procs     map[*Process]struct{}
	lingering map[*cgroup]struct{} // cgroups of exited shells whose children still run
	closed    bool
}

// New returns a Runner using bash (or sh when bash is missing) and process
// groups; set Cgroups (see DelegatedCgroups) to use cgroups as well.
func New() *Runner {
	return &Runner{Grace: DefaultGrace, Shell: DefaultShell(), procs: map[*Process]struct{}{}, lingering: map[*cgroup]struct{}{}}
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
	// TTY, when set, is the terminal side of a pseudo-terminal: it becomes
	// stdin, stdout, stderr and the controlling terminal of the command,
	// which leads its own session (job control, ctrl-c to the foreground).
	TTY *os.File
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

// Process is a started command.
type Process struct {
	r       *Runner
	cmd     *exec.Cmd
	cg      *cgroup // nil: process group only
	pgid    int
	session bool // leads its own session (a terminal): job control may make other groups in it
	start   time.Time
	timeout time.Duration
	done    chan struct{} // closed once the command has been waited for
	waitErr error
}

// Run starts c and waits for it. The returned error is non-nil only when the
// command could not be started; a non-zero exit is reported in Result.
func (r *Runner) Run(ctx context.Context, c Cmd) (Result, error) {
	p, err := r.Start(c)
	if err != nil {
		return Result{ExitCode: -1}, err
	}
	return p.Wait(ctx)
}

// Start starts c. The caller must call Wait.
func (r *Runner) Start(c Cmd) (*Process, error) {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, ErrShuttingDown
	}
	argv := c.Argv
	if len(argv) == 0 {
		argv = append(append([]string{}, r.Shell...), c.Script)
	}
	p := &Process{r: r, start: time.Now(), timeout: c.Timeout, done: make(chan struct{})}
	if r.Cgroups != nil {
		// A cgroup that cannot be created leaves the process group, as elsewhere.
		p.cg, _ = r.Cgroups.newCgroup()
	}
	// Start outside the lock: fork/exec of concurrent calls must not queue.
	if err := p.startIn(c, argv); err != nil {
		if p.cg != nil {
			p.cg.remove(0)
		}
		return nil, err
	}
	p.pgid = p.cmd.Process.Pid
	p.session = c.TTY != nil
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	r.mu.Lock()
	if r.closed {
		// Shutdown ran while we were starting: it did not see this process.
		r.mu.Unlock()
		p.signal(syscall.SIGKILL)
		<-p.done
		p.cleanup(true)
		return nil, ErrShuttingDown
	}
	r.procs[p] = struct{}{}
	r.mu.Unlock()
	return p, nil
}

// startIn starts the command, cloned straight into its cgroup when it has
// one; where clone3 is refused (ENOSYS under systemd's RestrictNamespaces=)
// the child joins the cgroup itself before it execs the command.
func (p *Process) startIn(c Cmd, argv []string) error {
	if p.cg == nil {
		p.cmd = p.build(c, argv)
		return p.cmd.Start()
	}
	cgs := p.r.Cgroups
	if !cgs.selfJoin.Load() {
		fd, err := syscall.Open(p.cg.path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		p.cmd = p.build(c, argv)
		p.cmd.SysProcAttr.UseCgroupFD = true
		p.cmd.SysProcAttr.CgroupFD = fd
		err = p.cmd.Start()
		syscall.Close(fd)
		if !errors.Is(err, syscall.ENOSYS) {
			return err
		}
		cgs.selfJoin.Store(true)
	}
	p.cmd = p.build(c, p.cg.selfJoinArgv(argv))
	return p.cmd.Start()
}

func (p *Process) build(c Cmd, argv []string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	cmd.Stdin = c.Stdin // nil means /dev/null: never the server's own stdin
	cmd.Stdout = c.Stdout
	cmd.Stderr = c.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.TTY != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = c.TTY, c.TTY, c.TTY
		// Ctty is the child's fd 0, the terminal.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	}
	if c.KillWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	cmd.WaitDelay = pipeDrain
	return cmd
}

// Pid is the process id of the shell (the group or session leader).
func (p *Process) Pid() int { return p.pgid }

// InCgroup reports whether the command runs in its own cgroup.
func (p *Process) InCgroup() bool { return p.cg != nil }

// Done is closed once the shell has exited and its output was drained.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the command, ending it (Terminate) at its timeout or when
// ctx ends, and releases what it held. Call it once.
func (p *Process) Wait(ctx context.Context) (Result, error) {
	var timeout <-chan time.Time
	if p.timeout > 0 {
		t := time.NewTimer(p.timeout - time.Since(p.start))
		defer t.Stop()
		timeout = t.C
	}
	res := Result{}
	select {
	case <-p.done:
	case <-timeout:
		res.TimedOut = true
		p.Terminate(syscall.SIGTERM)
	case <-ctx.Done():
		res.Cancelled = true
		p.Terminate(syscall.SIGTERM)
	}
	<-p.done
	p.cleanup(res.TimedOut || res.Cancelled)

	res.Duration = time.Since(p.start)
	res.ExitCode = p.cmd.ProcessState.ExitCode()
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal().String()
	}
	var ee *exec.ExitError
	if p.waitErr != nil && !errors.As(p.waitErr, &ee) && !errors.Is(p.waitErr, exec.ErrWaitDelay) {
		return res, p.waitErr
	}
	return res, nil
}

// cleanup forgets the process and removes its cgroup; a cgroup whose shell
// exited normally but whose children still run (`daemon &`) is kept until
// they exit or Shutdown ends them.
func (p *Process) cleanup(killed bool) {
	removed := true
	if p.cg != nil {
		wait := time.Duration(0)
		if killed {
			wait = time.Second
		}
		removed = p.cg.remove(wait)
	}
	p.r.mu.Lock()
	delete(p.r.procs, p)
	if !removed {
		p.r.lingering[p.cg] = struct{}{}
	}
	for g := range p.r.lingering {
		if g != p.cg && g.remove(0) {
			delete(p.r.lingering, g)
		}
	}
	p.r.mu.Unlock()
}

// Signal sends sig to the whole command: its process group and, with a
// cgroup, every process in it.
func (p *Process) Signal(sig syscall.Signal) { p.signal(sig) }

func (p *Process) signal(sig syscall.Signal) {
	syscall.Kill(-p.pgid, sig)
	if p.session {
		signalSession(p.pgid, sig)
	}
	if p.cg != nil {
		if sig == syscall.SIGKILL {
			p.cg.kill()
		} else {
			p.cg.signal(sig)
		}
	}
}

// Terminate sends first (usually SIGTERM) to the whole command, then SIGKILL
// after the grace period. The SIGKILL goes out even when the shell died on
// the first signal, because a grandchild that ignores it would otherwise
// survive. It returns once the SIGKILL is sent.
func (p *Process) Terminate(first syscall.Signal) {
	p.signal(first)
	grace := p.r.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.done:
		// Give the rest of the group a moment to act on the signal too.
		select {
		case <-t.C:
		case <-time.After(100 * time.Millisecond):
		}
	}
	p.signal(syscall.SIGKILL)
	// Killed processes are gone once reaped; their parent may be init,
	// which can take a moment.
	waitGroupGone(p.pgid, grace)
}

// waitGroupGone waits, up to limit, until no process of group pgid is left
// (killed ones reaped too), so that a caller that goes on to exit leaves
// nothing behind.
func waitGroupGone(pgid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for syscall.Kill(-pgid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// Shutdown refuses new commands and ends every running command (and the
// cgroups of exited shells whose children still run): SIGTERM now, SIGKILL
// after the grace period, or as soon as nothing of them is left.
func (r *Runner) Shutdown() {
	r.mu.Lock()
	r.closed = true
	procs := make([]*Process, 0, len(r.procs))
	for p := range r.procs {
		procs = append(procs, p)
	}
	groups := make([]*cgroup, 0, len(r.lingering))
	for g := range r.lingering {
		groups = append(groups, g)
	}
	r.mu.Unlock()
	if len(procs) == 0 && len(groups) == 0 {
		return
	}
	for _, p := range procs {
		p.signal(syscall.SIGTERM)
	}
	for _, g := range groups {
		g.signal(syscall.SIGTERM)
	}
	r.awaitGone(procs, groups)
	for _, p := range procs {
		p.signal(syscall.SIGKILL)
	}
	for _, g := range groups {
		g.kill()
		g.remove(time.Second)
	}
}

// awaitGone waits, up to the grace period, until every shell has exited and
// nothing is left of its process group, session or cgroup, nor of the
// lingering cgroups.
func (r *Runner) awaitGone(procs []*Process, groups []*cgroup) {
	t := time.NewTimer(r.Grace)
	defer t.Stop()
	for _, p := range procs {
		select {
		case <-p.done:
		case <-t.C:
			return
		}
	}
	// Children that outlive their shell have no channel to wait on.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for anyLeft(procs, groups) {
		select {
		case <-tick.C:
		case <-t.C:
			return
		}
	}
}

// anyLeft reports whether a process of the commands or of the cgroups is
// still alive.
func anyLeft(procs []*Process, groups []*cgroup) bool {
	for _, p := range procs {
		if p.left() {
			return true
		}
	}
	for _, g := range groups {
		if g.populated() {
			return true
		}
	}
	return false
}

// left reports whether a process of the command's group, session or cgroup
// is still alive.
func (p *Process) left() bool {
	if syscall.Kill(-p.pgid, 0) == nil {
		return true
	}
	if p.session && len(sessionMembers(p.pgid)) > 0 {
		return true
	}
	return p.cg != nil && p.cg.populated()
}

// Running returns the number of commands in flight.
func (r *Runner) Running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.procs)
}

// signalSession sends sig to every process of session sid: an interactive
// shell on a terminal puts each pipeline in a process group of its own.
func signalSession(sid int, sig syscall.Signal) {
	for _, pid := range sessionMembers(sid) {
		syscall.Kill(pid, sig)
	}
}

// sessionMembers returns the processes of session sid but its leader.
func sessionMembers(sid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == sid {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		// After the command name: state ppid pgrp session …
		if f := bytes.Fields(data[i+1:]); len(f) > 3 && string(f[3]) == strconv.Itoa(sid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
