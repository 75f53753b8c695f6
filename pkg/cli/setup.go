package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/huh"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/buildinfo"
	"github.com/servagent/servagent/pkg/clientconfig"
	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/fsutil"
	"github.com/servagent/servagent/pkg/secret"
	"github.com/servagent/servagent/pkg/setup"
	"github.com/servagent/servagent/pkg/skills"
	"github.com/servagent/servagent/pkg/system"
	"github.com/servagent/servagent/pkg/tools"
)

// SetupOptions are the inputs of `servagent setup`.
type SetupOptions struct {
	IO         IO
	Ctx        context.Context
	DryRun     bool
	Accessible bool

	// Passed to install (tests: Pebble).
	ACMEDirectory, ACMECAFile string
	ACMEHTTPPort              int

	Lifecycle lifecycleDeps
	SelfPath  string
	Version   string
	Obtainer  system.CertObtainer
	Resolver  setup.Resolver // nil: net.DefaultResolver
	Address   string         // "": system.PublicAddress()
}

func newSetupCmd(ios IO, runF func(*SetupOptions) error) *cobra.Command {
	opts := &SetupOptions{IO: ios, Lifecycle: defaultLifecycleDeps(ios)}
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
			opts.Ctx = cmd.Context()
			if os.Getenv("ACCESSIBLE") != "" {
				opts.Accessible = true
			}
			if runF != nil {
				return runF(opts)
			}
			return runSetup(opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.DryRun, "dry-run", false, "stop at the summary: print the equivalent commands, change nothing")
	f.BoolVar(&opts.Accessible, "accessible", false, "plain prompts for screen readers and pipes (also: ACCESSIBLE=1)")
	f.StringVar(&opts.ACMEDirectory, "acme-directory", "", "ACME directory URL (default Let's Encrypt production)")
	f.StringVar(&opts.ACMECAFile, "acme-ca-file", "", "CA bundle (PEM) to trust for the ACME server's HTTPS")
	f.IntVar(&opts.ACMEHTTPPort, "acme-http-port", 80, "port of the temporary HTTP-01 responder")
	_ = f.MarkHidden("acme-http-port")
	return cmd
}

// errSetupCancelled: the operator quit, or the input ended, before applying.
var errSetupCancelled = errors.New("setup cancelled; nothing was changed")

func runSetup(o *SetupOptions) error {
	d := o.Lifecycle
	if o.Ctx == nil {
		o.Ctx = context.Background()
	}
	ctx := o.Ctx
	if !o.Accessible && !d.IsTTY() {
		return exitf(2, "setup needs a terminal (or --accessible); without one: sudo servagent install [DOMAIN --email EMAIL] [--port N] [--full-access] --yes")
	}
	if !o.DryRun {
		if err := requireRoot(d, "setup"); err != nil {
			return err
		}
	}
	all, err := toolList(ctx)
	if err != nil {
		return err
	}
	if o.Address == "" {
		o.Address = system.PublicAddress()
	}
	cur, err := installed(d.Layout)
	if err != nil {
		return exitf(1, "reading the installation (as root: sudo servagent setup): %v", err)
	}
	a := setup.Defaults(o.Address)
	if cur != nil {
		a = setup.FromInstalled(*cur, o.Address, all)
	}
	w := newWizard(o)
	if err := w.ask(ctx, &a, cur != nil, all); err != nil {
		return err
	}
	skillsDir := d.Layout.Path(system.SkillsDir)
	plan, err := setup.NewPlan(a, cur, all, func(n string) bool { return fileExists(filepath.Join(skillsDir, n, skills.FileName)) }, newOAuthCredentials)
	if err != nil {
		return exitf(1, "%v", err)
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
		return exitf(1, "%v", errSetupCancelled)
	}
	return applyPlan(ctx, o, plan, w.editSkills)
}

// installed reads the current installation, nil when there is none.
func installed(l system.Layout) (*setup.Installed, error) {
	m, ok, err := l.ReadManifest()
	if err != nil || !ok {
		return nil, err
	}
	env, err := config.ReadEnvFile(l.Path(system.EnvFile))
	if err != nil {
		return nil, err
	}
	return &setup.Installed{Env: env, FullAccess: m.FullAccess}, nil
}

func newOAuthCredentials() (string, string) { return "servagent-" + secret.NewHex(8), secret.NewKey() }

// toolList names every tool with the first sentence of its own description,
// read from an in-memory MCP server so the wizard never restates them.
func toolList(ctx context.Context) ([]setup.Tool, error) {
	s := mcp.NewServer(&mcp.Implementation{Name: "servagent-setup", Version: buildinfo.Version}, nil)
	if err := tools.Register(s, &tools.Env{}, tools.Names()); err != nil {
		return nil, err
	}
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		return nil, err
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "setup"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		return nil, err
	}
	defer cs.Close()
	byName := map[string]string{}
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return nil, err
		}
		byName[t.Name] = setup.FirstSentence(t.Description)
	}
	var out []setup.Tool
	for _, n := range tools.Names() {
		out = append(out, setup.Tool{Name: n, Summary: byName[n]})
	}
	return out, nil
}

// wizard runs the questions, one small form at a time, so the flow can
// depend on earlier answers in accessible mode too (huh's accessible mode
// asks every field of a form, hidden or not).
type wizard struct {
	o          *SetupOptions
	in         io.Reader
	lines      *lineReader // accessible mode: one line per prompt
	editSkills bool
}

func newWizard(o *SetupOptions) *wizard {
	w := &wizard{o: o, in: o.IO.In}
	if o.Accessible {
		w.lines = &lineReader{r: bufio.NewReader(o.IO.In)}
		w.in = w.lines
	}
	return w
}

// field is what every huh question has.
type field[F any] interface {
	Title(string) F
	Description(string) F
}

// described sets a question's title and description. Accessible mode prints
// titles only, so there the description goes first in the title.
func described[F field[F]](w *wizard, f F, title, desc string) F {
	if w.o.Accessible {
		return f.Title(desc + "\n" + title)
	}
	return f.Title(title).Description(desc)
}

// run shows one form; quitting or the end of the input cancels the setup.
func (w *wizard) run(fields ...huh.Field) error {
	km := huh.NewDefaultKeyMap()
	km.Quit = key.NewBinding(key.WithKeys("ctrl+c", "esc"), key.WithHelp("esc", "quit"))
	f := huh.NewForm(huh.NewGroup(fields...)).WithKeyMap(km).WithAccessible(w.o.Accessible).
		WithInput(w.in).WithOutput(w.o.IO.ErrOut)
	var err error
	if w.o.Accessible {
		// A plain prompt blocks in read(2), which ctrl-c (caught by Main's
		// signal context) does not interrupt: stop waiting for it.
		done := make(chan error, 1)
		go func() { done <- f.Run() }()
		select {
		case err = <-done:
		case <-w.o.Ctx.Done():
			return exitf(1, "%v", errSetupCancelled)
		}
	} else {
		err = f.RunWithContext(w.o.Ctx)
	}
	if w.lines != nil && w.lines.eof {
		return exitf(1, "input ended before the summary was confirmed; %v", errSetupCancelled)
	}
	if err != nil {
		return exitf(1, "%v", errSetupCancelled)
	}
	return nil
}

func (w *wizard) ask(ctx context.Context, a *setup.Answers, upgrade bool, all []setup.Tool) error {
	intro := "servagent turns this server into an MCP server for AI clients.\nNothing is changed before the summary is confirmed; Esc or ctrl-c quits."
	if upgrade {
		intro = "servagent is installed here: the answers start from the current settings.\nNothing is changed before the summary is confirmed; Esc or ctrl-c quits."
	}
	mode := "ip"
	if a.Domain != "" {
		mode = "domain"
	}
	if err := w.run(described(w, huh.NewSelect[string](), "servagent setup: how will clients reach this server?", intro).Options(
		huh.NewOption("Public domain name, HTTPS with a Let's Encrypt certificate", "domain"),
		huh.NewOption("IP address and port, plain HTTP", "ip")).Value(&mode)); err != nil {
		return err
	}
	if mode == "domain" {
		if err := w.askDomain(ctx, a); err != nil {
			return err
		}
	} else {
		a.Domain, a.AcceptTerms = "", false
	}
	if a.Domain == "" {
		if err := w.askAddress(a); err != nil {
			return err
		}
	}
	if err := w.run(described(w, huh.NewConfirm(), "Give the AI full sudo access?", "Yes: the AI client can run any command as root on this server (servagent ALL=(ALL) NOPASSWD: ALL).\n"+
		"No: it acts as the unprivileged user servagent and can touch only what that user may.").
		Affirmative("Yes, full sudo").Negative("No").Value(&a.FullAccess)); err != nil {
		return err
	}
	if err := w.askTools(a, all); err != nil {
		return err
	}
	if a.Domain != "" {
		if err := w.run(described(w, huh.NewConfirm(), "Enable OAuth for Claude.ai and ChatGPT connectors?", "Generates the operator client id and secret that you paste into the connector's settings.").
			Value(&a.OAuth)); err != nil {
			return err
		}
	} else {
		a.OAuth = false
	}
	return w.askSkills(a)
}

func (w *wizard) askDomain(ctx context.Context, a *setup.Answers) error {
	for {
		dom := a.Domain
		if err := w.run(described(w, huh.NewInput(), "Public domain name", "It must resolve to this server; port 80 must be reachable while installing.").
			Placeholder("mcp.example.com").Value(&dom).Validate(orDefault(a.Domain, func(s string) error { _, err := system.NormalizeDomain(s); return err }))); err != nil {
			return err
		}
		if strings.TrimSpace(dom) == "" {
			dom = a.Domain
		}
		dom, err := system.NormalizeDomain(dom)
		if err != nil { // accessible mode re-asks only on its own validation
			fmt.Fprintln(w.o.IO.ErrOut, err)
			continue
		}
		r := w.o.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		if warn := setup.DomainWarning(ctx, r, dom, setup.LocalAddrs()); warn != "" {
			keep := false
			if err := w.run(described(w, huh.NewConfirm(), "Use "+dom+" anyway?", "Warning: "+warn).Value(&keep)); err != nil {
				return err
			}
			if !keep {
				continue
			}
		}
		a.Domain = dom
		break
	}
	if err := w.run(described(w, huh.NewInput(), "Contact email for Let's Encrypt (optional)", "Expiry and account notices; leave empty for none.").Value(&a.Email).Validate(setup.ValidateEmail),
		described(w, huh.NewConfirm(), "Accept the Let's Encrypt Subscriber Agreement?", "https://letsencrypt.org/repository/ - no certificate without it (No: plain HTTP instead).").Value(&a.AcceptTerms)); err != nil {
		return err
	}
	a.Email = strings.TrimSpace(a.Email)
	if !a.AcceptTerms {
		fmt.Fprintln(w.o.IO.ErrOut, "No certificate without the terms: continuing with plain HTTP.")
		a.Domain, a.Email = "", ""
		a.Port = setup.DefaultPort
		return nil
	}
	if a.Port == setup.DefaultPort || a.Port == 0 {
		a.Port = system.HTTPSPort
	}
	return nil
}

func (w *wizard) askAddress(a *setup.Answers) error {
	if a.Port == system.HTTPSPort {
		a.Port = setup.DefaultPort
	}
	port, addr := strconv.Itoa(a.Port), a.Address
	if err := w.run(described(w, huh.NewInput(), "Address clients use to reach this server", "Shown in the client configurations; the service listens on every interface.").Value(&addr).
		Validate(orDefault(a.Address, func(s string) error {
			if strings.TrimSpace(s) == "" {
				return errors.New("an IP address or host name is required")
			}
			return nil
		})),
		huh.NewInput().Title("Port").Value(&port).Validate(orDefault(port, setup.ValidatePort))); err != nil {
		return err
	}
	if addr = strings.TrimSpace(addr); addr != "" {
		a.Address = addr
	}
	if p, err := strconv.Atoi(strings.TrimSpace(port)); err == nil {
		a.Port = p
	}
	return nil
}

func (w *wizard) askTools(a *setup.Answers, all []setup.Tool) error {
	width := 0
	for _, t := range all {
		width = max(width, len(t.Name))
	}
	var opts []huh.Option[string]
	for _, t := range all {
		opts = append(opts, huh.NewOption(fmt.Sprintf("%-*s  %s", width, t.Name, t.Summary), t.Name).
			Selected(contains(a.Tools, t.Name)))
	}
	sel := a.Tools
	if err := w.run(described(w, huh.NewMultiSelect[string](), "Tools to expose", "default: execute_command and upload_file (execute_command alone can already do everything)").
		Options(opts...).Value(&sel).Height(len(all) + 4).Filterable(false).
		Validate(func(s []string) error {
			if len(s) == 0 {
				return errors.New("select at least one tool")
			}
			return nil
		})); err != nil {
		return err
	}
	a.Tools = nil
	for _, t := range all { // canonical order
		if contains(sel, t.Name) {
			a.Tools = append(a.Tools, t.Name)
		}
	}
	return nil
}

func (w *wizard) askSkills(a *setup.Answers) error {
	var opts []huh.Option[string]
	for _, n := range setup.TemplateNames {
		opts = append(opts, huh.NewOption(fmt.Sprintf("%-10s %s", n, setup.Templates[n].Summary), n).Selected(contains(a.Skills, n)))
	}
	if err := w.run(described(w, huh.NewMultiSelect[string](), "Skills to start from (optional)", "Notes the AI reads at the start of each session, in "+setup.SkillsDir+"/NAME/SKILL.md.").
		Options(opts...).Value(&a.Skills).Filterable(false)); err != nil {
		return err
	}
	if len(a.Skills) == 0 || w.o.Accessible || w.o.DryRun {
		return nil
	}
	return w.run(huh.NewConfirm().Title("Open the new skills in $EDITOR after the install?").
		Affirmative("Edit them").Negative("Leave them as files").Value(&w.editSkills))
}

// orDefault accepts an empty answer when there is a default: accessible
// mode validates the raw line before it substitutes the default.
func orDefault(def string, v func(string) error) func(string) error {
	return func(s string) error {
		if strings.TrimSpace(s) == "" && def != "" {
			return nil
		}
		return v(s)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// lineReader hands out at most one line per Read: huh's accessible prompts
// each wrap the input in a new bufio.Scanner, which would otherwise swallow
// the answers of the next questions from a pipe. eof records that the input
// ended, which cancels the setup instead of accepting defaults.
type lineReader struct {
	r   *bufio.Reader
	eof bool
}

func (l *lineReader) Read(p []byte) (int, error) {
	line, err := l.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		err = nil
	}
	n := copy(p, line)
	if n < len(line) {
		// The rest stays for the next Read.
		l.r = bufio.NewReader(io.MultiReader(strings.NewReader(string(line[n:])), l.r))
	}
	if err == io.EOF && n == 0 {
		l.eof = true
	}
	return n, err
}

func printDryRun(o *SetupOptions, p *setup.Plan) error {
	out := o.IO.Out
	envText, err := envAfter(o.Lifecycle.Layout, p)
	if err != nil {
		return exitf(1, "%v", err)
	}
	fmt.Fprintf(out, "%s\nDry run: nothing was changed. The same without the wizard:\n\n", p.Summary())
	if len(p.Env) > 0 {
		fmt.Fprintf(out, "1. %s, other lines kept:\n", setup.EnvFile)
		for _, l := range p.EnvLines(true) {
			fmt.Fprintf(out, "     %s\n", l)
		}
		fmt.Fprintf(out, "2. %s\n", p.Command())
	} else {
		fmt.Fprintf(out, "   %s\n", p.Command())
	}
	for _, s := range p.Skills {
		fmt.Fprintf(out, "   servagent skills add %s   (then write the skill; setup starts it from its %s template)\n", s, s)
	}
	fmt.Fprintf(out, "\n%s as setup writes it before install (install then adds the API key and its defaults):\n%s", setup.EnvFile, envText)
	return nil
}

// envAfter is the .env after setup's write, produced by the same
// config.UpdateEnvFile on a private copy.
func envAfter(l system.Layout, p *setup.Plan) (string, error) {
	tmp, err := os.MkdirTemp("", "servagent-setup-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, ".env")
	if data, err := os.ReadFile(l.Path(system.EnvFile)); err == nil {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return "", err
		}
	}
	if err := config.UpdateEnvFile(path, p.Env); err != nil {
		return "", err
	}
	data, err := os.ReadFile(path)
	return string(data), err
}

func applyPlan(ctx context.Context, o *SetupOptions, p *setup.Plan, editSkills bool) error {
	d, out := o.Lifecycle, o.IO.Out
	a := p.Answers
	fmt.Fprintln(out, "\nApplying:")
	envPath := d.Layout.Path(system.EnvFile)
	prev, prevErr := os.ReadFile(envPath)
	if len(p.Env) > 0 {
		if err := os.MkdirAll(filepath.Dir(envPath), 0o755); err != nil {
			return exitf(1, "setup failed: %v", err)
		}
		if err := config.UpdateEnvFile(envPath, p.Env); err != nil {
			return exitf(1, "setup failed: %v", err)
		}
		var keys []string
		for _, l := range p.EnvLines(false) {
			k, _, _ := strings.Cut(l, "=")
			keys = append(keys, k)
		}
		fmt.Fprintf(out, "  wrote %s (%s)\n", system.EnvFile, strings.Join(keys, ", "))
	}
	inst := &InstallOptions{IO: o.IO, Ctx: ctx, Lifecycle: d, SelfPath: o.SelfPath, Version: o.Version, Obtainer: o.Obtainer,
		Domain: a.Domain, Email: a.Email, ACMEDirectory: o.ACMEDirectory, ACMECAFile: o.ACMECAFile, ACMEHTTPPort: o.ACMEHTTPPort,
		FullAccess: a.FullAccess, FullAccessSet: true, Yes: true}
	if a.Port != system.HTTPSPort || a.Domain == "" {
		inst.Port = a.Port
	}
	res, err := installForSetup(inst)
	if err != nil {
		if len(p.Env) > 0 {
			// Leave .env as it was before setup, not half-applied.
			if prevErr == nil {
				err = errors.Join(err, fsutil.WriteFile(envPath, prev, 0o600))
			} else if errors.Is(prevErr, fs.ErrNotExist) {
				err = errors.Join(err, os.Remove(envPath))
			}
			fmt.Fprintf(o.IO.ErrOut, "setup: %s is back to what it was before setup\n", system.EnvFile)
		}
		return err
	}
	dir := d.Layout.Path(system.SkillsDir)
	for _, s := range p.Skills {
		path := filepath.Join(dir, s, skills.FileName)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return exitf(1, "adding skill %s: %v", s, err)
		}
		if err := fsutil.WriteFile(path, setup.Templates[s].Content, 0o644); err != nil {
			return exitf(1, "adding skill %s: %v", s, err)
		}
		fmt.Fprintf(out, "  added skill %s (%s)\n", s, filepath.Join(system.SkillsDir, s, skills.FileName))
	}
	if editSkills {
		for _, s := range p.Skills {
			if err := runSkillsAdd(ctx, &skillsAddOptions{IO: o.IO, Dir: dir, Name: s, StdinTTY: true}); err != nil {
				fmt.Fprintf(o.IO.ErrOut, "skill %s: %v\n", s, err)
			}
		}
	}
	printClients(out, a.MCPURL(), res, p)
	return nil
}

func printClients(w io.Writer, url string, res *system.InstallResult, p *setup.Plan) {
	fmt.Fprintf(w, "\nservagent %s: %s\nMCP endpoint: %s\n", map[bool]string{true: "reconfigured", false: "installed"}[p.Upgrade], "running", url)
	if res.NewAPIKey != "" {
		fmt.Fprintf(w, "\nAPI key (shown only now; it is stored in %s):\n  %s\n\n", system.EnvFile, res.NewAPIKey)
		fmt.Fprint(w, clientconfig.Snippets(url, res.NewAPIKey))
	} else {
		fmt.Fprintf(w, "\nAPI key unchanged (SERVAGENT_API_KEY in %s; new one: servagent install --rotate-key).\n", system.EnvFile)
	}
	if id := p.Env["SERVAGENT_OAUTH_CLIENT_ID"]; id != "" {
		fmt.Fprintf(w, "\nClaude.ai / ChatGPT connector (shown only now):\n  URL:           %s\n  Client ID:     %s\n  Client secret: %s\n",
			url, id, p.Env["SERVAGENT_OAUTH_CLIENT_SECRET"])
	}
	fmt.Fprintln(w, "\nStatus: systemctl status servagent   Logs: journalctl -u servagent -f")
}

// installForSetup runs the install step of `servagent install` and returns
// its result, without install's own closing text (setup prints its own).
func installForSetup(o *InstallOptions) (*system.InstallResult, error) {
	if o.SelfPath == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		if o.SelfPath, err = filepath.EvalSymlinks(exe); err != nil {
			return nil, err
		}
	}
	if o.Version == "" {
		o.Version = buildinfo.Version
	}
	if o.Obtainer == nil {
		o.Obtainer = system.ACMEObtainer{Logger: slog.New(slog.NewTextHandler(o.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	}
	d := o.Lifecycle
	full := o.FullAccess
	res, err := system.Install(o.Ctx, system.InstallOptions{
		Layout: d.Layout, Host: d.Host, Out: o.IO.Out, SelfPath: o.SelfPath, Version: o.Version,
		Domain: o.Domain, Email: o.Email, ACMEDirectory: o.ACMEDirectory, ACMECAFile: o.ACMECAFile,
		ACMEHTTPPort: o.ACMEHTTPPort, Obtainer: o.Obtainer, Port: o.Port, FullAccess: &full,
	})
	if err != nil {
		return nil, exitf(1, "install failed: %v", err)
	}
	return res, nil
}

// offerSetup is `servagent install` with no argument on a terminal: the
// wizard, or the plain install when declined.
func offerSetup(ios IO, o *InstallOptions) error {
	if err := requireRoot(o.Lifecycle, "install"); err != nil {
		return err
	}
	use := true
	v, err := o.Lifecycle.Confirm("Run the setup wizard?",
		"It asks for the domain, sudo access, tools, OAuth and skills, and shows a summary first.\nNo: a plain install with the defaults.", use)
	if err != nil {
		return exitf(1, "install cancelled: %v", err)
	}
	if !v {
		return runInstall(o)
	}
	return runSetup(&SetupOptions{IO: ios, Ctx: o.Ctx, Lifecycle: o.Lifecycle, SelfPath: o.SelfPath, Version: o.Version, Obtainer: o.Obtainer})
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
