package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/system"
)

// UninstallOptions are the inputs of `servagent uninstall`.
type UninstallOptions struct {
	IO        IO
	Yes       bool
	KeepCerts bool
	Lifecycle lifecycleDeps
}

func newUninstallCmd(f *Factory, runF func(*UninstallOptions) error) *cobra.Command {
	opts := &UninstallOptions{IO: f.IO, Lifecycle: f.Lifecycle}
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the servagent service, its user and files (needs root)",
		Long: `Remove what servagent install created: the service (stopped, disabled and its
unit removed), /etc/sudoers.d/servagent, /opt/servagent (binary, .env with the
API key, skills, state), the /usr/local/bin/servagent link and the system user
servagent. Anything install did not create is left alone and listed, such as a
user that existed before or your unit drop-ins.

--keep-certs moves the ACME account and certificates to ` + system.KeptCertsDir + `
first. Running uninstall again reports that nothing is left and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runUninstall(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&opts.KeepCerts, "keep-certs", false, "keep the ACME account and certificates (moved to "+system.KeptCertsDir+")")
	return cmd
}

func runUninstall(ctx context.Context, o *UninstallOptions) error {
	d := o.Lifecycle
	if err := requireRoot(d, "uninstall"); err != nil {
		return err
	}
	plan, err := system.PlanUninstall(d.Layout, d.Host)
	if err != nil {
		return failf("uninstall: %w", err)
	}
	if plan.Empty() {
		fmt.Fprintln(o.IO.Out, "servagent is not installed: nothing to remove.")
		for _, s := range plan.Left {
			fmt.Fprintf(o.IO.Out, "  left alone: %s\n", s)
		}
		return nil
	}
	if !o.Yes {
		desc := "This removes:\n  - " + strings.Join(plan.Items(), "\n  - ")
		if !d.IsTTY() {
			return failf("uninstall needs confirmation: run it on a terminal or pass --yes")
		}
		ok, err := d.Confirm("Uninstall servagent?", desc, false)
		if err != nil || !ok {
			fmt.Fprintln(o.IO.Out, "Nothing removed.")
			return nil
		}
	}
	fmt.Fprintln(o.IO.Out, "Uninstalling servagent")
	if err := system.Uninstall(ctx, system.UninstallOptions{Layout: d.Layout, Host: d.Host, Systemd: d.Systemd, Out: o.IO.Out, KeepCerts: o.KeepCerts}, plan); err != nil {
		return failf("uninstall failed: %w", err)
	}
	fmt.Fprintln(o.IO.Out, "servagent is uninstalled.")
	return nil
}
