package tools

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/servagent/servagent/pkg/timeutil"
)

// KillProcessInput are the arguments of kill_process.
type KillProcessInput struct {
	PID    int    `json:"pid" jsonschema:"process id (from list_processes); must be > 1"`
	Signal string `json:"signal,omitempty" jsonschema:"signal name (TERM, KILL, HUP, INT, QUIT, USR1, USR2, STOP, CONT; the SIG prefix is optional) or number; default TERM"`
}

// KillProcessOutput is the result of kill_process.
type KillProcessOutput struct {
	PID    int    `json:"pid"`
	Name   string `json:"name,omitempty"`
	Signal string `json:"signal"`
	// Exited is set for terminating signals, after waiting up to 2s.
	Exited *bool `json:"exited,omitempty" jsonschema:"for TERM, KILL, INT and QUIT: whether the process had exited 2s later"`
}

var signalNames = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "TERM": syscall.SIGTERM,
	"STOP": syscall.SIGSTOP, "CONT": syscall.SIGCONT,
}

// sigRTMAX is the highest signal number on Linux.
const sigRTMAX = 64

// parseSignal accepts TERM, SIGTERM, term or a number in 1..64.
func parseSignal(s string) (syscall.Signal, string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return syscall.SIGTERM, "SIGTERM", nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > sigRTMAX {
			return 0, "", fmt.Errorf("signal number %d is out of range 1..%d", n, sigRTMAX)
		}
		for name, sig := range signalNames {
			if int(sig) == n {
				return sig, "SIG" + name, nil
			}
		}
		return syscall.Signal(n), "signal " + s, nil
	}
	name := strings.TrimPrefix(s, "SIG")
	if sig, ok := signalNames[name]; ok {
		return sig, "SIG" + name, nil
	}
	return 0, "", fmt.Errorf("unknown signal %q: use TERM (polite stop), KILL (forced), HUP, INT, QUIT, USR1, USR2, STOP, CONT, or a number", s)
}

var killProcessTool = define(Tool{
	Name:  "kill_process",
	Title: "Kill a process",
	Description: "Send a signal to one process by pid (default TERM). Try TERM first and KILL only if the process is still there. " +
		"For a systemd service use service_action instead, or systemd restarts it. Refuses pid 1, process groups (negative pids) and servagent itself. " +
		"For TERM/KILL/INT/QUIT, waits up to 2s and says whether the process exited.",
	Hints: Hints{Destructive: true},
	Audit: []string{"pid", "signal"},
}, (*Env).killProcess)

func (e *Env) killProcess(ctx context.Context, _ *mcp.CallToolRequest, in KillProcessInput) (*mcp.CallToolResult, KillProcessOutput, error) {
	switch {
	case in.PID < 0:
		return nil, KillProcessOutput{}, fmt.Errorf("pid %d is negative, which would signal a whole process group: pass one process id > 1 (see list_processes)", in.PID)
	case in.PID == 0:
		return nil, KillProcessOutput{}, fmt.Errorf("pid is missing or 0: pass the process id from list_processes")
	case in.PID > math.MaxInt32:
		// kill(2) takes a 32-bit pid_t: 2^32+1 would wrap around to init.
		return nil, KillProcessOutput{}, fmt.Errorf("pid %d is out of range: Linux pids are below 2^22; pass a pid from list_processes", in.PID)
	}
	if err := refuseProtected(in.PID); err != nil {
		return nil, KillProcessOutput{}, err
	}
	sig, sigName, err := parseSignal(in.Signal)
	if err != nil {
		return nil, KillProcessOutput{}, err
	}
	st, statErr := readProcStat(in.PID)
	out := KillProcessOutput{PID: in.PID, Signal: sigName, Name: st.name}
	if err := syscall.Kill(in.PID, sig); err != nil {
		return nil, KillProcessOutput{}, killError(in.PID, out.Name, sigName, sig, err)
	}
	msg := fmt.Sprintf("sent %s to pid %d", sigName, in.PID)
	if out.Name != "" {
		msg += " (" + out.Name + ")"
	}
	if sig == syscall.SIGTERM || sig == syscall.SIGKILL || sig == syscall.SIGINT || sig == syscall.SIGQUIT {
		exited := waitExit(ctx, in.PID, st, statErr == nil, 2*time.Second)
		out.Exited = &exited
		if exited {
			msg += "; the process has exited"
		} else {
			msg += "; it is still running after 2s"
			if sig != syscall.SIGKILL {
				msg += ": wait a little longer, or send KILL"
			} else {
				msg += " (probably in uninterruptible disk sleep, state D); check it with list_processes"
			}
		}
	}
	return textResult("%s", msg), out, nil
}

// refuseProtected refuses init, servagent and its parent. A thread id is
// judged by its thread group: kill(2) on any thread of a process signals
// the whole process, so a TID of servagent is servagent.
func refuseProtected(pid int) error {
	tgid, what := pid, fmt.Sprintf("pid %d", pid)
	if g, ok := threadGroup(pid); ok && g != pid {
		tgid, what = g, fmt.Sprintf("pid %d (a thread of process %d)", pid, g)
	}
	switch tgid {
	case 1:
		return fmt.Errorf("refusing to signal %s: that is init, and it would bring the whole server down; use service_action for services", what)
	case os.Getpid():
		return fmt.Errorf("refusing to signal %s: it is servagent itself, and this session would end", what)
	case os.Getppid():
		return fmt.Errorf("refusing to signal %s: it is servagent's parent, and killing it would likely end servagent too", what)
	}
	return nil
}

// threadGroup reads the Tgid of a task from /proc/<id>/status (thread ids
// are not listed in /proc but resolve there).
func threadGroup(id int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(id) + "/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			return n, err == nil
		}
	}
	return 0, false
}

// waitExit polls until pid is gone, a zombie, or reused by another process.
func waitExit(ctx context.Context, pid int, was procStat, known bool, max time.Duration) bool {
	deadline := time.Now().Add(max)
	for {
		st, err := readProcStat(pid)
		if err != nil || st.state == 'Z' || st.state == 'X' || (known && st.startTick != was.startTick) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		if !timeutil.Sleep(ctx, 50*time.Millisecond) {
			return false
		}
	}
}

// killError turns kill(2) errors into advice for the model.
func killError(pid int, name, sigName string, sig syscall.Signal, err error) error {
	switch {
	case errors.Is(err, syscall.ESRCH):
		return fmt.Errorf("no such process: pid %d does not exist (it may already have exited); call list_processes to find the current pid", pid)
	case errors.Is(err, syscall.EPERM):
		who := "servagent's user"
		if u, uerr := user.Current(); uerr == nil {
			who = "user " + u.Username
		}
		what := fmt.Sprintf("pid %d", pid)
		if name != "" {
			what += " (" + name + ")"
		}
		return fmt.Errorf("permission denied: %s may not send %s to %s, which belongs to another user; if sudo is set up, use execute_command with `sudo -n kill -%d %d`",
			who, sigName, what, int(sig), pid)
	default:
		return fmt.Errorf("cannot send %s to pid %d: %w", sigName, pid, err)
	}
}
