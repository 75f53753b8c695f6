package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/huh"

	"github.com/servagent/servagent/pkg/setup"
	"github.com/servagent/servagent/pkg/system"
)

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
			Selected(slices.Contains(a.Tools, t.Name)))
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
		if slices.Contains(sel, t.Name) {
			a.Tools = append(a.Tools, t.Name)
		}
	}
	return nil
}

func (w *wizard) askSkills(a *setup.Answers) error {
	var opts []huh.Option[string]
	for _, n := range setup.TemplateNames {
		opts = append(opts, huh.NewOption(fmt.Sprintf("%-10s %s", n, setup.Templates[n].Summary), n).Selected(slices.Contains(a.Skills, n)))
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
