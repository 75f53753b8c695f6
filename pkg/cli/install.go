package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/servagent/servagent/pkg/clientconfig"

	"github.com/charmbracelet/huh"
	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/buildinfo"
	"github.com/servagent/servagent/pkg/system"
)

// InstallOptions are the inputs of `servagent install`.
type InstallOptions struct {
	IO  IO
	Ctx context.Context

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

	// Dependencies, replaced in tests.
	Lifecycle lifecycleDeps
	SelfPath  string
	Version   string
	Obtainer  system.CertObtainer
}

// lifecycleDeps are what install, uninstall, update and tls setup need from
// the machine, so tests can run them without root.
type lifecycleDeps struct {
	Geteuid  func() int
	IsTTY    func() bool // stdin and stdout are a terminal: prompts allowed
	Confirm  func(title, description string, def bool) (bool, error)
	Layout   system.Layout
	Host     system.Host
	Progress io.Writer // update's progress bar: set only on a terminal
}

func defaultLifecycleDeps(ios IO) lifecycleDeps {
	tty := func() bool { return isTerminalStream(ios.In) && isTerminalStream(ios.Out) }
	d := lifecycleDeps{
		Geteuid: os.Geteuid,
		IsTTY:   tty,
		Host:    system.RealHost{},
		Confirm: func(title, desc string, def bool) (bool, error) {
			v := def
			f := huh.NewForm(huh.NewGroup(huh.NewConfirm().Title(title).Description(desc).
				Affirmative("Yes").Negative("No").Value(&v))).WithInput(ios.In).WithOutput(ios.ErrOut)
			return v, f.Run()
		},
	}
	if isTerminalStream(ios.ErrOut) {
		d.Progress = ios.ErrOut
	}
	return d
}

// isTerminalStream reports whether s is a character device (a terminal).
func isTerminalStream(s any) bool {
	f, ok := s.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// requireRoot is the one-line refusal every lifecycle command gives.
func requireRoot(d lifecycleDeps, what string) error {
	if d.Geteuid() != 0 {
		return exitf(1, "%s needs root: run it with sudo", what)
	}
	return nil
}

func newInstallCmd(ios IO, runF func(*InstallOptions) error) *cobra.Command {
	opts := &InstallOptions{IO: ios, Lifecycle: defaultLifecycleDeps(ios)}
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
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			if len(args) == 0 && cmd.Flags().NFlag() == 0 && opts.Lifecycle.IsTTY() {
				return offerSetup(ios, opts) // the wizard (setup.go)
			}
			return runInstall(opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.FullAccess, "full-access", false, "let the servagent user run anything with sudo (no password)")
	f.IntVar(&opts.Port, "port", 0, "port to listen on (default 8765, or 443 with DOMAIN; kept on upgrade)")
	f.StringVar(&opts.Email, "email", "", "contact email for the ACME account")
	f.StringVar(&opts.ACMEDirectory, "acme-directory", "", "ACME directory URL (default Let's Encrypt production)")
	f.StringVar(&opts.ACMECAFile, "acme-ca-file", "", "CA bundle (PEM) to trust for the ACME server's HTTPS")
	f.IntVar(&opts.ACMEHTTPPort, "acme-http-port", 80, "port of the temporary HTTP-01 responder")
	_ = f.MarkHidden("acme-http-port") // tests: Pebble validates on a random port
	f.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask questions")
	f.BoolVar(&opts.NoStart, "no-start", false, "install and enable the service but do not start it")
	f.BoolVar(&opts.RotateKey, "rotate-key", false, "generate a new API key even if one exists")
	return cmd
}

func runInstall(o *InstallOptions) error {
	d := o.Lifecycle
	if err := requireRoot(d, "install"); err != nil {
		return err
	}
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if o.SelfPath == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		if o.SelfPath, err = filepath.EvalSymlinks(exe); err != nil {
			return err
		}
	}
	if o.Version == "" {
		o.Version = buildinfo.Version
	}
	if o.Obtainer == nil {
		o.Obtainer = system.ACMEObtainer{Logger: slog.New(slog.NewTextHandler(o.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn}))}
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
			return exitf(1, "install cancelled: %v", err)
		}
		full = &v
	}
	fmt.Fprintf(o.IO.Out, "Installing servagent %s\n", o.Version)
	res, err := system.Install(ctx, system.InstallOptions{
		Layout: d.Layout, Host: d.Host, Out: o.IO.Out, SelfPath: o.SelfPath, Version: o.Version,
		Domain: o.Domain, Email: o.Email, ACMEDirectory: o.ACMEDirectory, ACMECAFile: o.ACMECAFile,
		ACMEHTTPPort: o.ACMEHTTPPort, Obtainer: o.Obtainer,
		Port: o.Port, FullAccess: full, RotateKey: o.RotateKey, NoStart: o.NoStart,
	})
	if err != nil {
		return exitf(1, "install failed: %v", err)
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
