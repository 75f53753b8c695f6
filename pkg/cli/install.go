package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/clientconfig"
	"github.com/servagent/servagent/pkg/system"
)

// InstallOptions are the inputs of `servagent install`.
type InstallOptions struct {
	IO IO

	Domain        string
	FullAccess    bool
	FullAccessSet bool // --full-access given (true or false)
	Port          int
	Email         string
	ACMEDirectory string
	ACMECAFile    string
	ACMEHTTPPort  int
	Yes           bool
	NoStart       bool
	RotateKey     bool
	HealthTimeout time.Duration

	// Dependencies, from the Factory; tests set their own.
	Lifecycle lifecycleDeps
	SelfPath  string // the binary to install; "" asks Executable
	// Executable finds the running binary, after the root check.
	Executable func() (string, error)
	Version    string
	Obtainer   system.CertObtainer
}

func newInstallCmd(f *Factory, runF func(*InstallOptions) error) *cobra.Command {
	opts := &InstallOptions{IO: f.IO, Lifecycle: f.Lifecycle, Version: f.Version, Obtainer: f.Obtainer, Executable: f.Executable}
	cmd := &cobra.Command{
		Use:   "install [DOMAIN]",
		Short: "Install or upgrade servagent as a systemd service (needs root)",
		Long: `Install servagent on this machine, or upgrade an existing installation in place.

It creates the system user servagent (no login shell, home /opt/servagent),
copies this binary to /opt/servagent/bin/servagent (linked from
/usr/local/bin/servagent), writes /opt/servagent/.env (mode 0600) with a new
API key, writes a hardened unit /etc/systemd/system/servagent.service, enables
and starts it, and waits for /healthz. The API key and ready-to-paste client
configurations are printed once, on the install that creates the key.

With DOMAIN, a Let's Encrypt certificate is obtained in-process (HTTP-01: the
domain must resolve here and port 80 be reachable while installing), and the
service serves HTTPS on port 443 and renews the certificate itself.

--full-access writes /etc/sudoers.d/servagent (servagent ALL=(ALL) NOPASSWD:
ALL, checked with visudo) and drops the unit options that stop sudo. On a
terminal without the flag you are asked; without a terminal the previous
choice is kept (no sudo on a fresh install). --full-access=false takes it back.

Without full access the unit is hardened, but ProtectSystem=full (not strict)
so whatever you grant the servagent user with ordinary permissions (group
write on a web root, files it owns under /srv) keeps working. Home
directories are read-only. To open more paths, set in /opt/servagent/.env
  SERVAGENT_READ_WRITE_PATHS=/home/site/www,/data
and run install again. For a tighter box, add a drop-in (install keeps it):
  # systemctl edit servagent   -> /etc/systemd/system/servagent.service.d/override.conf
  [Service]
  ProtectSystem=strict
  ReadWritePaths=/opt/servagent/state /srv/www

Running install again upgrades binary and unit and keeps the API key and
every .env value, except those set by the flags given now; --rotate-key
generates a new key.`,
		Example: `  sudo servagent install
  sudo servagent install mcp.example.com --email admin@example.com
  sudo servagent install --full-access --yes mcp.example.com`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Domain = args[0]
			}
			opts.FullAccessSet = cmd.Flags().Changed("full-access")
			if runF != nil {
				return runF(opts)
			}
			if len(args) == 0 && cmd.Flags().NFlag() == 0 && opts.Lifecycle.IsTTY() {
				return offerSetup(cmd.Context(), f, opts) // the wizard (setup.go)
			}
			return runInstall(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.FullAccess, "full-access", false, "let the servagent user run anything with sudo (no password)")
	fl.IntVar(&opts.Port, "port", 0, "port to listen on (default 8765, or 443 with DOMAIN; kept on upgrade)")
	fl.StringVar(&opts.Email, "email", "", "contact email for the ACME account")
	addACMEFlags(cmd, &opts.ACMEDirectory, &opts.ACMECAFile, &opts.ACMEHTTPPort)
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask questions")
	fl.BoolVar(&opts.NoStart, "no-start", false, "install and enable the service but do not start it")
	fl.BoolVar(&opts.RotateKey, "rotate-key", false, "generate a new API key even if one exists")
	fl.DurationVar(&opts.HealthTimeout, "health-timeout", system.DefaultHealthTimeout, "how long the started service has to answer /healthz (raise it on a slow machine)")
	return cmd
}

// addACMEFlags declares the ACME flags that install, tls setup and setup share.
func addACMEFlags(cmd *cobra.Command, directory, caFile *string, httpPort *int) {
	fl := cmd.Flags()
	fl.StringVar(directory, "acme-directory", "", "ACME directory URL (default Let's Encrypt production)")
	fl.StringVar(caFile, "acme-ca-file", "", "CA bundle (PEM) to trust for the ACME server's HTTPS")
	fl.IntVar(httpPort, "acme-http-port", 80, "port of the temporary HTTP-01 responder (behind a port-forward from 80)")
}

func runInstall(ctx context.Context, o *InstallOptions) error {
	d := o.Lifecycle
	if err := requireRoot(d, "install"); err != nil {
		return err
	}
	var full *bool
	if o.FullAccessSet {
		full = &o.FullAccess
	} else if !o.Yes && d.IsTTY() {
		prev, _, err := d.Layout.ReadManifest()
		if err != nil {
			return err
		}
		v, err := d.Confirm("Give servagent full sudo access?",
			"The AI client could then run any command as root (servagent ALL=(ALL) NOPASSWD: ALL).\n"+
				"Without it, it acts as the unprivileged user servagent.", prev.FullAccess)
		if err != nil {
			return failf("install cancelled: %w", err)
		}
		full = &v
	}
	fmt.Fprintf(o.IO.Out, "Installing servagent %s\n", o.Version)
	res, err := install(ctx, o, full)
	if err != nil {
		return err
	}
	w := o.IO.Out
	verb := "installed"
	if res.Upgrade {
		verb = "upgraded"
	}
	state := "running"
	if !res.Started {
		state = "enabled, not started (start: systemctl start servagent)"
	}
	fmt.Fprintf(w, "\nservagent %s %s: %s\nMCP endpoint: %s\n", o.Version, verb, state, res.URL)
	if res.FullAccess {
		fmt.Fprintln(w, "Full access: the servagent user may run any command with sudo.")
	} else {
		fmt.Fprintln(w, "Access: unprivileged user servagent, no sudo (grant more with: servagent install --full-access).")
	}
	if res.NewAPIKey != "" {
		fmt.Fprintf(w, "\nAPI key (shown only now; it is stored in %s):\n  %s\n\n", system.EnvFile, res.NewAPIKey)
		fmt.Fprint(w, clientconfig.Snippets(res.URL, res.NewAPIKey))
	} else {
		fmt.Fprintf(w, "\nAPI key unchanged (SERVAGENT_API_KEY in %s; new one: --rotate-key).\n", system.EnvFile)
	}
	fmt.Fprintln(w, "\nStatus: systemctl status servagent   Logs: journalctl -u servagent -f")
	return nil
}

// install runs the install steps for o; full is the sudo choice (nil: keep
// the previous one). Install and the setup wizard both end here.
func install(ctx context.Context, o *InstallOptions, full *bool) (*system.InstallResult, error) {
	d := o.Lifecycle
	if o.SelfPath == "" {
		var err error
		if o.SelfPath, err = o.Executable(); err != nil {
			return nil, failf("finding the running binary: %w", err)
		}
	}
	res, err := system.Install(ctx, system.InstallOptions{
		Layout: d.Layout, Host: d.Host, Systemd: d.Systemd, Out: o.IO.Out, SelfPath: o.SelfPath, Version: o.Version,
		Domain: o.Domain, Email: o.Email, ACMEDirectory: o.ACMEDirectory, ACMECAFile: o.ACMECAFile,
		ACMEHTTPPort: o.ACMEHTTPPort, Obtainer: o.Obtainer,
		Port: o.Port, FullAccess: full, RotateKey: o.RotateKey, NoStart: o.NoStart, HealthTimeout: o.HealthTimeout,
	})
	if err != nil {
		return nil, failf("install failed: %w", err)
	}
	return res, nil
}
