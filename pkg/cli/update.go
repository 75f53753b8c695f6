package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/distpkg"
	"github.com/servagent/servagent/pkg/system"
	"github.com/servagent/servagent/pkg/update"
)

// UpdateOptions are the inputs of `servagent update`.
type UpdateOptions struct {
	IO        IO
	Version   string
	Force     bool
	Check     bool
	BaseURL   string // SERVAGENT_UPDATE_URL
	Lifecycle lifecycleDeps
	Current   string // the running version
	// Service overrides the systemd unit (tests).
	Service update.Service
	// BinaryPath overrides the binary to replace (tests).
	BinaryPath string
	// Executable finds the running binary: the one replaced when no
	// installed copy exists, and the one asked about its package.
	Executable func() (string, error)
	// HealthTimeout bounds the wait for the new version's /healthz (0:
	// system.DefaultHealthTimeout).
	HealthTimeout time.Duration
}

func newUpdateCmd(f *Factory, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{IO: f.IO, Lifecycle: f.Lifecycle, Current: f.Version, Executable: f.Executable}
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
			if opts.BaseURL == "" {
				opts.BaseURL = os.Getenv("SERVAGENT_UPDATE_URL")
			}
			if runF != nil {
				return runF(opts)
			}
			return runUpdate(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Version, "version", "", "install this release (vX.Y.Z) instead of the newest")
	fl.BoolVar(&opts.Force, "force", false, "reinstall even if already at that version")
	fl.BoolVar(&opts.Check, "check", false, "only report whether an update is available")
	fl.DurationVar(&opts.HealthTimeout, "health-timeout", system.DefaultHealthTimeout, "how long the new version has to answer /healthz before it is rolled back (raise it on a slow machine)")
	return cmd
}

func runUpdate(ctx context.Context, o *UpdateOptions) error {
	d := o.Lifecycle
	if !o.Check {
		if err := requireRoot(d, "update"); err != nil {
			return err
		}
	}
	if !o.Check && o.BinaryPath == "" {
		exe, _ := o.Executable() // "": only the package path is asked about
		if pkg, ok := distpkg.Servagent(ctx, exe); ok {
			return failf("servagent comes from the %s package %s; upgrade it with: %s", pkg.Manager, pkg.Package, pkg.UpgradeCommand())
		}
	}
	uo := update.Options{BaseURL: o.BaseURL, CurrentVersion: o.Current, Version: o.Version, Force: o.Force,
		Check: o.Check, Out: o.IO.Out, Progress: d.Progress, BinaryPath: o.BinaryPath, Service: o.Service}
	if uo.BinaryPath == "" {
		// The installed binary, even when update runs from another copy.
		uo.BinaryPath = d.Layout.Path(system.BinPath)
		if _, err := os.Stat(uo.BinaryPath); err != nil {
			if uo.BinaryPath, err = o.Executable(); err != nil {
				return err
			}
		}
	}
	if uo.Service == nil {
		if _, err := os.Stat(d.Layout.Path(system.UnitPath)); err == nil {
			uo.Service = system.InstalledService{Layout: d.Layout, Systemd: d.Systemd, HealthTimeout: o.HealthTimeout}
		}
	}
	res, err := update.Run(ctx, uo)
	if err != nil {
		if errors.Is(err, update.ErrRolledBack) {
			return failf("update to %s failed: %w", res.To, err)
		}
		return failf("update: %w", err)
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
