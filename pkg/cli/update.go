package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/buildinfo"
	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/distpkg"
	"github.com/servagent/servagent/pkg/system"
	"github.com/servagent/servagent/pkg/update"
)

// UpdateOptions are the inputs of `servagent update`.
type UpdateOptions struct {
	IO        IO
	Ctx       context.Context
	Version   string
	Force     bool
	Check     bool
	BaseURL   string // SERVAGENT_UPDATE_URL
	Lifecycle lifecycleDeps
	Current   string
	// Service overrides the systemd unit (tests).
	Service update.Service
	// BinaryPath overrides the binary to replace (tests).
	BinaryPath string
	// HealthTimeout bounds the wait for the new version's /healthz.
	HealthTimeout time.Duration
}

func newUpdateCmd(ios IO, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{IO: ios, Lifecycle: defaultLifecycleDeps(ios)}
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Update the installed servagent to the latest release (needs root)",
		Long: `Fetch the release list from GitHub (SERVAGENT_UPDATE_URL replaces
https://api.github.com for mirrors), download the archive for this OS and
architecture and checksums.txt, verify the SHA-256, replace the binary
atomically (the previous one is kept as servagent.prev), restart the service
and wait for /healthz to report the new version. If it does not, the previous
binary is restored and restarted, and update exits 1.

Already up to date: says so and exits 0 without restarting anything.
--check only reports whether an update exists (root not needed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if opts.BaseURL == "" {
				opts.BaseURL = os.Getenv("SERVAGENT_UPDATE_URL")
			}
			if runF != nil {
				return runF(opts)
			}
			return runUpdate(opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Version, "version", "", "install this release (vX.Y.Z) instead of the newest")
	f.BoolVar(&opts.Force, "force", false, "reinstall even if already at that version")
	f.BoolVar(&opts.Check, "check", false, "only report whether an update is available")
	f.DurationVar(&opts.HealthTimeout, "health-timeout", 30*time.Second, "how long the new version has to answer /healthz")
	_ = f.MarkHidden("health-timeout") // tests: a broken release fails faster
	return cmd
}

func runUpdate(o *UpdateOptions) error {
	d := o.Lifecycle
	if !o.Check {
		if err := requireRoot(d, "update"); err != nil {
			return err
		}
	}
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if exe, _ := os.Executable(); !o.Check && o.BinaryPath == "" {
		if pkg, ok := distpkg.Servagent(ctx, exe); ok {
			return exitf(1, "servagent comes from the %s package %s; upgrade it with: %s", pkg.Manager, pkg.Package, pkg.UpgradeCommand())
		}
	}
	if o.Current == "" {
		o.Current = buildinfo.Version
	}
	uo := update.Options{BaseURL: o.BaseURL, CurrentVersion: o.Current, Version: o.Version, Force: o.Force,
		Check: o.Check, Out: o.IO.Out, Progress: d.Progress, BinaryPath: o.BinaryPath, Service: o.Service}
	if uo.BinaryPath == "" {
		// The installed binary, even when update runs from another copy.
		uo.BinaryPath = d.Layout.Path(system.BinPath)
		if _, err := os.Stat(uo.BinaryPath); err != nil {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			if uo.BinaryPath, err = filepath.EvalSymlinks(exe); err != nil {
				return err
			}
		}
	}
	if uo.Service == nil {
		if _, err := os.Stat(d.Layout.Path(system.UnitPath)); err == nil {
			uo.Service = systemdService{l: d.Layout, h: d.Host, timeout: o.HealthTimeout}
		}
	}
	res, err := update.Run(ctx, uo)
	if err != nil {
		if errors.Is(err, update.ErrRolledBack) {
			return exitf(1, "update to %s failed: %v", res.To, err)
		}
		return exitf(1, "update: %v", err)
	}
	switch {
	case o.Check && res.Available:
		fmt.Fprintf(o.IO.Out, "Update available: %s -> %s (run: sudo servagent update)\n", res.From, res.To)
	case o.Check, !res.Updated:
		fmt.Fprintf(o.IO.Out, "servagent %s is up to date (latest release: %s).\n", res.From, res.To)
	case uo.Service == nil:
		fmt.Fprintf(o.IO.Out, "Updated %s -> %s (no installed service to restart).\n", res.From, res.To)
	default:
		fmt.Fprintf(o.IO.Out, "Updated %s -> %s; the service is running the new version.\n", res.From, res.To)
	}
	return nil
}

// systemdService restarts the installed unit and reads /healthz at the
// address configured in /opt/servagent/.env.
type systemdService struct {
	l       system.Layout
	h       system.Host
	timeout time.Duration
}

func (s systemdService) Restart(ctx context.Context) error {
	// A broken release may have hit the start rate limit; a rollback's
	// restart must not be refused for it.
	s.h.Run(ctx, "systemctl", "reset-failed", system.UnitName)
	out, err := s.h.Run(ctx, "systemctl", "restart", system.UnitName)
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

func (s systemdService) Healthy(ctx context.Context, version string) error {
	env, err := config.ReadEnvFile(s.l.Path(system.EnvFile))
	if err != nil {
		return err
	}
	url, c, err := system.HealthEndpoint(s.l, env)
	if err != nil {
		return err
	}
	timeout := s.timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	_, err = system.WaitHealthy(ctx, c, url, version, timeout)
	return err
}
