package setup

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/servagent/servagent/pkg/config"
)

// Paths of the installation the plan talks about (system.EnvFile, ...),
// repeated as text for the summary; pkg/cli passes the real ones to apply.
const (
	EnvFile   = "/opt/servagent/.env"
	SkillsDir = "/opt/servagent/skills"
)

// Plan is what applying the answers does: .env lines written first, then one
// `servagent install` (which keeps those lines), then skill files.
type Plan struct {
	Answers Answers
	// Env are the .env variables setup sets before install runs; every
	// other line of the file is kept.
	Env map[string]string
	// Install are the arguments of the equivalent `servagent install`.
	Install []string
	// Skills are the templates to add (those not already present).
	Skills []string
	// Changes lists what differs from the installation (nil on a first
	// install).
	Changes []Change
	// Upgrade: an installation is already there.
	Upgrade bool
}

// Change is one difference from the current installation.
type Change struct{ What, From, To string }

// Credentials makes the operator OAuth client (id, secret).
type Credentials func() (id, secret string)

// NewPlan turns answers into a plan. cur is nil on a first install. haveSkill
// reports skills already present (left alone). newCreds is called only when
// OAuth is newly enabled.
func NewPlan(a Answers, cur *Installed, all []Tool, haveSkill func(string) bool, newCreds Credentials) (*Plan, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	p := &Plan{Answers: a, Env: map[string]string{}, Upgrade: cur != nil}
	s := &config.Config{} // a first install has no settings yet
	var old Answers
	if cur != nil {
		s = cur.Settings
		old = FromInstalled(*cur, a.Address, all)
	}
	// Only what changes is written, so an unchanged run rewrites nothing.
	set := func(name, v string) {
		if cur == nil || cur.File[name] != v {
			p.Env[name] = v
		}
	}
	tools := ToolsValue(a.Tools, all)
	if cur != nil && sameTools(a.Tools, old.Tools) {
		// The same selection keeps its spelling: an explicit list of every
		// tool does not become "all" (which takes in the tools of later
		// versions) behind a summary that says nothing changed.
		tools = cur.File[config.VarTools]
	}
	set(config.VarTools, tools)
	issuer := a.MCPURL()
	switch {
	case a.OAuth && (s.OAuthClientID == "" || s.OAuthClientSecret == ""):
		id, sec := newCreds()
		set(config.VarOAuthClientID, id)
		set(config.VarOAuthClientSecret, sec)
		set(config.VarOAuthIssuerURL, issuer)
	case a.OAuth:
		set(config.VarOAuthIssuerURL, issuer)
	case old.OAuth:
		set(config.VarOAuthIssuerURL, "")
		set(config.VarOAuthClientID, "")
		set(config.VarOAuthClientSecret, "")
	}
	if cur != nil && old.Domain != "" && a.Domain == "" {
		// Back to plain HTTP: the certificate settings go, the files stay.
		set(config.VarTLSCertFile, "")
		set(config.VarTLSKeyFile, "")
		set(config.VarACMEDomain, "")
	}
	p.Install = installArgs(a, cur)
	for _, s := range a.Skills {
		if haveSkill == nil || !haveSkill(s) {
			p.Skills = append(p.Skills, s)
		}
	}
	if cur != nil {
		p.Changes = changes(old, a, p.Skills, all)
	}
	return p, nil
}

// installArgs are the arguments of the `servagent install` that applies a
// over cur (nil: a first install). --port is left out only when the port is
// the mode's default and, over an installation, what its .env assigns.
func installArgs(a Answers, cur *Installed) []string {
	args := []string{"install"}
	if a.Domain != "" {
		args = append(args, a.Domain)
		if a.Email != "" {
			args = append(args, "--email", a.Email)
		}
	}
	def := DefaultPort
	if a.Domain != "" {
		def = 443
	}
	if a.Port != def || (cur != nil && cur.File[config.VarPort] != strconv.Itoa(a.Port)) {
		args = append(args, "--port", strconv.Itoa(a.Port))
	}
	if a.FullAccess {
		args = append(args, "--full-access")
	} else {
		args = append(args, "--full-access=false")
	}
	return append(args, "--yes")
}

// sameTools reports whether a and b select the same tools, in any order.
func sameTools(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func changes(old, a Answers, skills []string, all []Tool) []Change {
	var out []Change
	add := func(what, from, to string) {
		if from != to {
			out = append(out, Change{what, from, to})
		}
	}
	// The address of plain-HTTP mode is only printed, never installed.
	if old.Domain != a.Domain || old.Port != a.Port {
		out = append(out, Change{"address", old.MCPURL(), a.MCPURL()})
	}
	add("full sudo access", yesNo(old.FullAccess), yesNo(a.FullAccess))
	add("tools", ToolsValue(old.Tools, all), ToolsValue(a.Tools, all))
	add("OAuth connectors", yesNo(old.OAuth), yesNo(a.OAuth))
	if len(skills) > 0 {
		add("skills", "", strings.Join(skills, ", "))
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Command is the equivalent command line, to run after writing Env.
func (p *Plan) Command() string {
	return "sudo servagent " + strings.Join(p.Install, " ")
}

// EnvLines are the .env assignments setup writes, sorted, secrets included
// only when reveal is set.
func (p *Plan) EnvLines(reveal bool) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(p.Env)) {
		v := p.Env[k]
		if !reveal && strings.HasSuffix(k, "_SECRET") && v != "" {
			v = "(generated; shown once at the end)"
		}
		out = append(out, k+"="+v)
	}
	return out
}

// Summary is the summary screen: exactly what will be written and run.
func (p *Plan) Summary() string {
	var b strings.Builder
	a := p.Answers
	if p.Upgrade {
		if len(p.Changes) == 0 {
			b.WriteString("No change to the current settings; install runs again (same key, same settings).\n\n")
		} else {
			b.WriteString("Changes:\n")
			for _, c := range p.Changes {
				if c.From == "" {
					fmt.Fprintf(&b, "  %s: + %s\n", c.What, c.To)
				} else {
					fmt.Fprintf(&b, "  %s: %s -> %s\n", c.What, c.From, c.To)
				}
			}
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "MCP endpoint: %s\n", a.MCPURL())
	if lines := p.EnvLines(false); len(lines) > 0 {
		fmt.Fprintf(&b, "\nWrite into %s (other lines kept):\n", EnvFile)
		for _, l := range lines {
			b.WriteString("  " + l + "\n")
		}
	}
	for _, s := range p.Skills {
		fmt.Fprintf(&b, "\nAdd skill %s/%s/SKILL.md (template %s)", SkillsDir, s, s)
	}
	if len(p.Skills) > 0 {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nRun: %s\n", p.Command())
	for _, s := range p.installSteps() {
		b.WriteString("  - " + s + "\n")
	}
	return b.String()
}

// installSteps says in words what the install command does.
func (p *Plan) installSteps() []string {
	a := p.Answers
	var s []string
	if !p.Upgrade {
		s = append(s, "create the system user servagent (home /opt/servagent, no login shell)")
	}
	s = append(s, "copy this binary to /opt/servagent/bin/servagent (link /usr/local/bin/servagent)")
	if p.Upgrade {
		s = append(s, "keep the API key and every other .env value")
	} else {
		s = append(s, "write "+EnvFile+" (mode 0600) with a new API key, shown once at the end")
	}
	if a.Domain != "" {
		s = append(s, "obtain (or keep) a Let's Encrypt certificate for "+a.Domain+" (HTTP-01: port 80 must be reachable now)")
	}
	if a.FullAccess {
		s = append(s, "write /etc/sudoers.d/servagent: servagent ALL=(ALL) NOPASSWD: ALL")
	} else {
		s = append(s, "no sudo rule (remove /etc/sudoers.d/servagent if install wrote one)")
	}
	s = append(s, "write /etc/systemd/system/servagent.service, enable it, (re)start it and wait for /healthz")
	return s
}
