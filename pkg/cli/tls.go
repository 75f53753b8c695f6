package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/system"
)

// TLSSetupOptions are the inputs of `servagent tls setup`.
type TLSSetupOptions struct {
	IO            IO
	Domain        string
	Email         string
	ACMEDirectory string
	ACMECAFile    string
	ACMEHTTPPort  int
	Port          int
	HealthTimeout time.Duration
	Lifecycle     lifecycleDeps
	Obtainer      system.CertObtainer
}

func newTLSCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tls",
		Short: "Manage HTTPS of the installed service",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newTLSSetupCmd(f, nil))
	return cmd
}

func newTLSSetupCmd(f *Factory, runF func(*TLSSetupOptions) error) *cobra.Command {
	opts := &TLSSetupOptions{IO: f.IO, Lifecycle: f.Lifecycle, Obtainer: f.Obtainer}
	cmd := &cobra.Command{
		Use:   "setup DOMAIN",
		Short: "Switch an HTTP installation to HTTPS with a Let's Encrypt certificate (needs root)",
		Long: `Obtain a certificate for DOMAIN (HTTP-01: DOMAIN must resolve to this machine
and port 80 be reachable now), write the TLS files and port 443 into
/opt/servagent/.env, let the unit bind port 443, restart the service and check
/healthz over HTTPS. The running service renews the certificate itself.`,
		Example: "  sudo servagent tls setup mcp.example.com --email admin@example.com",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Domain = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runTLSSetup(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Email, "email", "", "contact email for the ACME account")
	addACMEFlags(cmd, &opts.ACMEDirectory, &opts.ACMECAFile, &opts.ACMEHTTPPort)
	fl.IntVar(&opts.Port, "port", 443, "HTTPS port")
	fl.DurationVar(&opts.HealthTimeout, "health-timeout", system.DefaultHealthTimeout, "how long the restarted service has to answer /healthz over HTTPS (raise it on a slow machine)")
	return cmd
}

func runTLSSetup(ctx context.Context, o *TLSSetupOptions) error {
	d := o.Lifecycle
	if err := requireRoot(d, "tls setup"); err != nil {
		return err
	}
	// The running service is the installed binary, maybe not this one: any
	// healthy version will do.
	fmt.Fprintf(o.IO.Out, "Setting up HTTPS for %s\n", o.Domain)
	url, err := system.SetupTLS(ctx, system.TLSOptions{Layout: d.Layout, Host: d.Host, Systemd: d.Systemd, Out: o.IO.Out,
		Domain: o.Domain, Email: o.Email, ACMEDirectory: o.ACMEDirectory, ACMECAFile: o.ACMECAFile,
		ACMEHTTPPort: o.ACMEHTTPPort, Port: o.Port, Obtainer: o.Obtainer, HealthTimeout: o.HealthTimeout})
	if err != nil {
		return failf("tls setup failed: %w", err)
	}
	fmt.Fprintf(o.IO.Out, "\nHTTPS is on. MCP endpoint: %s\nUpdate your clients' URL; the API key is unchanged.\n", url)
	return nil
}
