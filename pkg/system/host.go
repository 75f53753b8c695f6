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

	"github.com/servagent/servagent/pkg/systemd"
)

// Host is every side effect on the machine that is neither a file under
// Layout.Root nor systemd (that is systemd.Systemd): commands (useradd,
// userdel, visudo), the user database and ownership. Tests substitute a
// recorder.
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
	// Their messages end up in our errors: in English, like systemctl's.
	cmd.Env = append(os.Environ(), "LC_ALL=C")
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

// InstalledService is the installed unit as update sees it: restarted
// through systemctl, healthy when /healthz at the address of its .env
// reports the expected version.
type InstalledService struct {
	Layout        Layout
	Systemd       systemd.Systemd
	HealthTimeout time.Duration // 0: DefaultHealthTimeout
}

// Restart restarts the unit, clearing a failed state first: a broken
// release may have hit the start rate limit, and a rollback's restart must
// not be refused for it.
func (s InstalledService) Restart(ctx context.Context) error {
	_ = s.Systemd.Run(ctx, "reset-failed", UnitName) // nothing to reset is not an error worth reporting
	return s.Systemd.Run(ctx, "restart", UnitName)
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
		timeout = DefaultHealthTimeout
	}
	_, err = WaitHealthy(ctx, c, url, version, timeout)
	return err
}
