package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/servagent/servagent/pkg/clientconfig"
	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/fsutil"
	"github.com/servagent/servagent/pkg/setup"
	"github.com/servagent/servagent/pkg/skills"
	"github.com/servagent/servagent/pkg/system"
)

func printDryRun(o *SetupOptions, p *setup.Plan) error {
	out := o.IO.Out
	envText, err := envAfter(o.Lifecycle.Layout, p)
	if err != nil {
		return failf("%w", err)
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
			return failf("setup failed: %w", err)
		}
		if err := config.UpdateEnvFile(envPath, p.Env); err != nil {
			return failf("setup failed: %w", err)
		}
		var keys []string
		for _, l := range p.EnvLines(false) {
			k, _, _ := strings.Cut(l, "=")
			keys = append(keys, k)
		}
		fmt.Fprintf(out, "  wrote %s (%s)\n", system.EnvFile, strings.Join(keys, ", "))
	}
	inst := &InstallOptions{IO: o.IO, Lifecycle: d, SelfPath: o.SelfPath, Executable: o.Executable, Version: o.Version, Obtainer: o.Obtainer,
		Domain: a.Domain, Email: a.Email, ACMEDirectory: o.ACMEDirectory, ACMECAFile: o.ACMECAFile, ACMEHTTPPort: o.ACMEHTTPPort,
		FullAccess: a.FullAccess, FullAccessSet: true, Yes: true}
	if a.Port != system.HTTPSPort || a.Domain == "" {
		inst.Port = a.Port
	}
	res, err := install(ctx, inst, &inst.FullAccess)
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
			return failf("adding skill %s: %w", s, err)
		}
		if err := fsutil.WriteFile(path, setup.Templates[s].Content, 0o644); err != nil {
			return failf("adding skill %s: %w", s, err)
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
	verb := "installed"
	if p.Upgrade {
		verb = "reconfigured"
	}
	fmt.Fprintf(w, "\nservagent %s: running\nMCP endpoint: %s\n", verb, url)
	if res.NewAPIKey != "" {
		fmt.Fprintf(w, "\nAPI key (shown only now; it is stored in %s):\n  %s\n\n", system.EnvFile, res.NewAPIKey)
		fmt.Fprint(w, clientconfig.Snippets(url, res.NewAPIKey))
	} else {
		fmt.Fprintf(w, "\nAPI key unchanged (SERVAGENT_API_KEY in %s; new one: servagent install --rotate-key).\n", system.EnvFile)
	}
	if id := p.Env[config.VarOAuthClientID]; id != "" {
		fmt.Fprintf(w, "\nClaude.ai / ChatGPT connector (shown only now):\n  URL:           %s\n  Client ID:     %s\n  Client secret: %s\n",
			url, id, p.Env[config.VarOAuthClientSecret])
	}
	fmt.Fprintln(w, "\nStatus: systemctl status servagent   Logs: journalctl -u servagent -f")
}
