package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/charmbracelet/huh"
	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/clientconfig"
	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/secret"
	"github.com/servagent/servagent/pkg/setup"
	"github.com/servagent/servagent/pkg/skills"
	"github.com/servagent/servagent/pkg/system"
	"github.com/servagent/servagent/pkg/tools"
)

// SetupOptions are the inputs of `servagent setup`.
type SetupOptions struct {
	IO         IO
	DryRun     bool
	Accessible bool

	// Passed to install (tests: Pebble).
	ACMEDirectory, ACMECAFile string
	ACMEHTTPPort              int

	Lifecycle lifecycleDeps
	SelfPath  string
	// Executable finds the running binary (install copies it).
	Executable func() (string, error)
	Version    string
	Obtainer   system.CertObtainer
	Resolver   setup.Resolver // nil: net.DefaultResolver
	Address    string         // "": clientconfig.ReachableHost()
}

func newSetupCmd(f *Factory, runF func(*SetupOptions) error) *cobra.Command {
	opts := &SetupOptions{IO: f.IO, Lifecycle: f.Lifecycle, Version: f.Version, Obtainer: f.Obtainer, Executable: f.Executable}
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Install or reconfigure servagent with an interactive wizard (needs root)",
		Long: `Walk through the choices of an install: a public domain (HTTPS with Let's
Encrypt) or an IP address and port, full sudo access or not, the tools to
expose, OAuth for Claude.ai / ChatGPT connectors and skills to start from. A
summary says exactly what will be written and run; nothing changes before you
confirm it (Esc or ctrl-c quit). Then setup writes /opt/servagent/.env, runs
install, and prints the client configurations and the API key, once.

On an installed server setup opens with the current values, shows what
changes and applies it (.env rewritten with every other line kept, a new
certificate when a domain appears, restart, /healthz checked).

--dry-run stops at the summary and prints the equivalent commands and .env
lines, changing nothing. --accessible (or ACCESSIBLE=1) asks plain numbered
questions, for screen readers and pipes. Without a terminal and without
--accessible, setup exits 2 and prints the equivalent install flags.`,
		Example: `  sudo servagent setup
  servagent setup --dry-run
  ACCESSIBLE=1 sudo servagent setup`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if os.Getenv("ACCESSIBLE") != "" {
				opts.Accessible = true
			}
			if runF != nil {
				return runF(opts)
			}
			return runSetup(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.DryRun, "dry-run", false, "stop at the summary: print the equivalent commands, change nothing")
	fl.BoolVar(&opts.Accessible, "accessible", false, "plain prompts for screen readers and pipes (also: ACCESSIBLE=1)")
	addACMEFlags(cmd, &opts.ACMEDirectory, &opts.ACMECAFile, &opts.ACMEHTTPPort)
	return cmd
}

// errSetupCancelled: the operator quit, or the input ended, before applying.
var errSetupCancelled = errors.New("setup cancelled; nothing was changed")

func runSetup(ctx context.Context, o *SetupOptions) error {
	d := o.Lifecycle
	if !o.Accessible && !d.IsTTY() {
		return usagef("setup needs a terminal (or --accessible); without one: sudo servagent install [DOMAIN --email EMAIL] [--port N] [--full-access] --yes")
	}
	if !o.DryRun {
		if err := requireRoot(d, "setup"); err != nil {
			return err
		}
	}
	all := toolList()
	if o.Address == "" {
		o.Address = clientconfig.ReachableHost()
	}
	cur, err := installed(d.Layout)
	if err != nil {
		return failf("reading the installation (as root: sudo servagent setup): %w", err)
	}
	a := setup.Defaults(o.Address)
	if cur != nil {
		a = setup.FromInstalled(*cur, o.Address, all)
	}
	w := newWizard(ctx, o)
	if err := w.ask(ctx, &a, cur != nil, all); err != nil {
		return err
	}
	haveSkill := func(n string) bool { return d.Layout.Exists(filepath.Join(system.SkillsDir, n, skills.FileName)) }
	plan, err := setup.NewPlan(a, cur, all, haveSkill, newOAuthCredentials)
	if err != nil {
		return failf("%w", err)
	}
	if o.DryRun {
		return printDryRun(o, plan)
	}
	if cur != nil && len(plan.Changes) == 0 {
		fmt.Fprintln(o.IO.Out, "Nothing to change; nothing was done.")
		return nil
	}
	apply := false
	if err := w.run(described(w, huh.NewConfirm(), "Apply this now?", plan.Summary()).
		Affirmative("Apply").Negative("Cancel").Value(&apply)); err != nil {
		return err
	}
	if !apply {
		return failf("%w", errSetupCancelled)
	}
	return applyPlan(ctx, o, plan, w.editSkills)
}

// installed reads the current installation, nil when there is none.
func installed(l system.Layout) (*setup.Installed, error) {
	m, ok, err := l.ReadManifest()
	if err != nil || !ok {
		return nil, err
	}
	file, err := config.ReadEnvFile(l.Path(system.EnvFile))
	if err != nil {
		return nil, err
	}
	in, err := setup.NewInstalled(file, m.FullAccess, tools.Names())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", system.EnvFile, err)
	}
	return in, nil
}

func newOAuthCredentials() (string, string) { return "servagent-" + secret.NewHex(8), secret.NewKey() }

// toolList names every tool with the first sentence of its own description,
// read from the tools' declarations so the wizard never restates them.
func toolList() []setup.Tool {
	var out []setup.Tool
	for _, t := range tools.All {
		if t.With != "" {
			continue // comes with the tool it names (the job tools with execute_command)
		}
		out = append(out, setup.Tool{Name: t.Name, Summary: setup.FirstSentence(t.Description)})
	}
	return out
}

// offerSetup is `servagent install` with no argument on a terminal: the
// wizard, or the plain install when declined.
func offerSetup(ctx context.Context, f *Factory, o *InstallOptions) error {
	if err := requireRoot(o.Lifecycle, "install"); err != nil {
		return err
	}
	use := true
	v, err := o.Lifecycle.Confirm("Run the setup wizard?",
		"It asks for the domain, sudo access, tools, OAuth and skills, and shows a summary first.\nNo: a plain install with the defaults.", use)
	if err != nil {
		return failf("install cancelled: %w", err)
	}
	if !v {
		return runInstall(ctx, o)
	}
	return runSetup(ctx, &SetupOptions{IO: f.IO, Lifecycle: o.Lifecycle, SelfPath: o.SelfPath, Executable: o.Executable, Version: o.Version, Obtainer: o.Obtainer})
}
