// Package systemd is the one place servagent invokes systemctl and
// journalctl: which programs, with which environment, as an argv (never a
// shell string), whether systemd runs at all (sd_booted(3)), which unit names
// may reach an argv, when `sudo -n` goes in front, and how failures read.
//
// A Systemd value carries all of it, so tests build one pointing at fake
// programs, a temp run directory or a recorder instead of swapping globals.
// Two ways to run: Run and JournalTail execute to completion through Exec
// (install, update, uninstall); the MCP tools take the argv from
// SystemctlArgv and JournalArgv and start it under their own runner, which
// owns time limits, output caps and process groups.
package systemd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// BootedDir exists iff systemd is PID 1 (the sd_booted(3) test).
const BootedDir = "/run/systemd/system"

// Exec runs argv to completion with env as its whole environment and
// returns its combined stdout and stderr.
type Exec func(ctx context.Context, argv, env []string) (string, error)

// Systemd is how servagent reaches a host's systemd. Its zero value runs
// nothing: every program name is empty and Run fails, so a test that
// forgets to build one cannot touch the real machine.
type Systemd struct {
	// Systemctl, Journalctl and Sudo are program names (looked up in PATH)
	// or paths.
	Systemctl, Journalctl, Sudo string
	// RunDir is BootedDir on a real host.
	RunDir string
	// Euid says who we are, for the sudo rule (AsRoot); nil: os.Geteuid.
	Euid func() int
	// Exec runs what Run and JournalTail build.
	Exec Exec
}

// Host is the running machine's systemd.
func Host() Systemd {
	return Systemd{Systemctl: "systemctl", Journalctl: "journalctl", Sudo: "sudo",
		RunDir: BootedDir, Euid: os.Geteuid, Exec: Command}
}

// extraEnv keeps systemctl and journalctl from waiting on a pager or a
// password agent, and their messages in English, which is what the callers
// recognise ("not found", "Access denied").
var extraEnv = []string{"SYSTEMD_PAGER=", "SYSTEMD_ASK_PASSWORD_AGENT=0", "LC_ALL=C"}

// Environ is base plus what systemctl and journalctl need; the additions
// come last, so they win over base's values.
func Environ(base []string) []string {
	out := make([]string, 0, len(base)+len(extraEnv))
	return append(append(out, base...), extraEnv...)
}

// Command is the real Exec: os/exec, killed when ctx ends.
func Command(ctx context.Context, argv, env []string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = env
	err := cmd.Run()
	return out.String(), err
}

// NotBootedError says systemd does not manage this host.
type NotBootedError struct {
	RunDir string
	Init   string // PID 1's name
}

func (e *NotBootedError) Error() string {
	return fmt.Sprintf("systemd is not running on this host (%s does not exist; PID 1 is %q), so there are no systemd units", e.RunDir, e.Init)
}

// Booted returns nil when systemd manages this host, else a *NotBootedError.
func (s Systemd) Booted() error {
	if fi, err := os.Stat(s.RunDir); err == nil && fi.IsDir() {
		return nil
	}
	init := "another init system"
	if b, err := os.ReadFile("/proc/1/comm"); err == nil {
		init = strings.TrimSpace(string(b))
	}
	return &NotBootedError{RunDir: s.RunDir, Init: init}
}

// SystemctlArgv is `systemctl --no-pager args...` with systemctl resolved
// in PATH, so the argv says which binary ran.
func (s Systemd) SystemctlArgv(args ...string) ([]string, error) {
	bin, err := exec.LookPath(s.Systemctl)
	if err != nil {
		return nil, fmt.Errorf("systemctl not found in PATH although systemd is running: %w", err)
	}
	return append([]string{bin, "--no-pager"}, args...), nil
}

// ErrNoJournalctl means journalctl is not installed.
var ErrNoJournalctl = errors.New("journalctl is not installed on this host")

// JournalArgv reads the last lines of unit's journal, then with follow
// keeps reading. Validate the unit first (ValidateUnit); --unit=X is one argv
// element besides, so the name can never become an option.
func (s Systemd) JournalArgv(unit string, lines int, follow bool) ([]string, error) {
	bin, err := exec.LookPath(s.Journalctl)
	if err != nil {
		return nil, ErrNoJournalctl
	}
	argv := []string{bin, "--no-pager", "--unit=" + unit, "-n", strconv.Itoa(lines)}
	if follow {
		argv = append(argv, "-f")
	}
	return argv, nil
}

// AsRoot puts `sudo -n` in front of argv when we are not root and sudo is
// installed (-n: fail rather than ask for a password nobody can type), and
// says whether it did. As root, or without sudo, argv is returned as is and
// the command's own error says what is missing.
func (s Systemd) AsRoot(argv []string) ([]string, bool) {
	euid := os.Geteuid
	if s.Euid != nil {
		euid = s.Euid
	}
	if euid() == 0 {
		return argv, false
	}
	sudo, err := exec.LookPath(s.Sudo)
	if err != nil {
		return argv, false
	}
	return append([]string{sudo, "-n"}, argv...), true
}

// Run runs `systemctl args...` to completion, its output folded into the
// error.
func (s Systemd) Run(ctx context.Context, args ...string) error {
	argv := append([]string{s.Systemctl}, args...)
	out, err := s.exec(ctx, argv)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	if o := strings.TrimSpace(out); o != "" {
		return fmt.Errorf("%w: %s", err, o)
	}
	return err
}

// JournalTail returns the last n lines of unit's journal, messages only,
// for failure reports; "" when there are none or journalctl fails.
func (s Systemd) JournalTail(ctx context.Context, unit string, n int) string {
	out, _ := s.exec(ctx, []string{s.Journalctl, "-u", unit, "-n", strconv.Itoa(n), "--no-pager", "-o", "cat"})
	return strings.TrimRight(out, "\n")
}

func (s Systemd) exec(ctx context.Context, argv []string) (string, error) {
	if s.Exec == nil || argv[0] == "" {
		return "", errors.New("no systemd access configured (a zero systemd.Systemd; use systemd.Host())")
	}
	return s.Exec(ctx, argv, Environ(os.Environ()))
}
