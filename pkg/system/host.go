package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"time"
)

// Host is every side effect on the machine that is not a file under
// Layout.Root: commands (useradd, systemctl, visudo, journalctl), the user
// database and ownership. Tests substitute a recorder.
type Host interface {
	// Run runs a command and returns its combined output.
	Run(ctx context.Context, name string, args ...string) (string, error)
	// LookupUser returns the uid and gid of a user, ok=false if it does not exist.
	LookupUser(name string) (uid, gid int, ok bool, err error)
	// Chown changes the owner of path (not following symlinks).
	Chown(path string, uid, gid int) error
}

// RealHost acts on the running system.
type RealHost struct{}

func (RealHost) Run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// systemctl and journalctl must never wait on a pager or a password agent.
	cmd.Env = append(os.Environ(), "SYSTEMD_PAGER=", "SYSTEMD_ASK_PASSWORD_AGENT=0", "LC_ALL=C")
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out.String(), err
}

func (RealHost) LookupUser(name string) (int, int, bool, error) {
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, false, fmt.Errorf("user %s: uid %q is not a number", name, u.Uid)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return 0, 0, false, fmt.Errorf("user %s: gid %q is not a number", name, u.Gid)
	}
	return uid, gid, true, nil
}

func (RealHost) Chown(path string, uid, gid int) error { return os.Lchown(path, uid, gid) }

// systemctl runs systemctl with the arguments and folds its output into the error.
func systemctl(ctx context.Context, h Host, args ...string) error {
	out, err := h.Run(ctx, "systemctl", args...)
	if err != nil {
		if s := strings.TrimSpace(out); s != "" {
			return fmt.Errorf("%w: %s", err, s)
		}
	}
	return err
}

// JournalTail returns the last n journal lines of the unit, for failure reports.
func JournalTail(ctx context.Context, h Host, n int) string {
	out, _ := h.Run(ctx, "journalctl", "-u", UnitName, "-n", strconv.Itoa(n), "--no-pager", "-o", "cat")
	return strings.TrimRight(out, "\n")
}

// InstalledService is the installed unit as update sees it: restarted
// through systemctl, healthy when /healthz at the address of its .env
// reports the expected version.
type InstalledService struct {
	Layout        Layout
	Host          Host
	HealthTimeout time.Duration // 0: 30s
}

// Restart restarts the unit, clearing a failed state first: a broken
// release may have hit the start rate limit, and a rollback's restart must
// not be refused for it.
func (s InstalledService) Restart(ctx context.Context) error {
	_ = systemctl(ctx, s.Host, "reset-failed", UnitName) // nothing to reset is not an error worth reporting
	return systemctl(ctx, s.Host, "restart", UnitName)
}

// Healthy waits for /healthz to report version ("" for any).
func (s InstalledService) Healthy(ctx context.Context, version string) error {
	settings, err := ReadSettings(s.Layout)
	if err != nil {
		return err
	}
	url, c, err := HealthEndpoint(s.Layout, settings)
	if err != nil {
		return err
	}
	timeout := s.HealthTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	_, err = WaitHealthy(ctx, c, url, version, timeout)
	return err
}
