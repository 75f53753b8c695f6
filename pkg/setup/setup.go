// Package setup is the model of the `servagent setup` wizard, kept apart from
// its terminal forms: the answers an operator gives, read back from an
// installed .env, turned into a plan (the .env lines setup writes, the
// `servagent install` it runs, the skills it adds) and the summary that says
// exactly that. The forms (pkg/cli/setup.go) only fill in Answers.
package setup

import (
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"

	"github.com/servagent/servagent/pkg/clientconfig"
	"github.com/servagent/servagent/pkg/config"
)

// DefaultPort is the plain-HTTP port of a fresh install (system.DefaultPort).
const DefaultPort = 8765

// Tool is one entry of the tools question.
type Tool struct {
	Name    string
	Summary string // one line
}

// Answers are what the wizard asks. The zero value is not meaningful: start
// from Defaults or FromInstalled.
type Answers struct {
	// Domain is the public DNS name; "" means plain HTTP on Address:Port.
	Domain string
	Email  string
	// AcceptTerms is the operator's agreement to the CA's terms of service;
	// HTTPS with a domain needs it.
	AcceptTerms bool
	// Address is what clients dial in plain-HTTP mode (shown in the client
	// configurations); the service listens on every interface.
	Address    string
	Port       int
	FullAccess bool
	Tools      []string // selected tool names, canonical order
	OAuth      bool     // operator OAuth credentials for Claude.ai / ChatGPT
	Skills     []string // template names to add
}

// Defaults are the answers of a first install.
func Defaults(address string) Answers {
	return Answers{Address: address, Port: DefaultPort, Tools: config.DefaultTools()}
}

// Installed is what an existing installation says about itself.
type Installed struct {
	// Settings are its .env over the defaults, each value checked
	// (config.Settings): what the answers are read from.
	Settings *config.Config
	// Tools are the tools it exposes: SERVAGENT_TOOLS with "all" expanded
	// and every name checked against the tools servagent has.
	Tools []string
	// File holds the .env's own assignments. Setup edits that text, so it
	// writes a variable unless the file already assigns it the same value.
	File       map[string]string
	FullAccess bool // from the install manifest
}

// NewInstalled reads an installation from its .env's assignments and its
// manifest; valid names every tool servagent has (those the wizard lists
// and those that come with one). A value serve would refuse is an error.
func NewInstalled(file map[string]string, fullAccess bool, valid []string) (*Installed, error) {
	s, err := config.Settings(file)
	if err != nil {
		return nil, err
	}
	tools, err := config.ResolveTools(s.Tools, valid)
	if err != nil {
		return nil, err
	}
	return &Installed{Settings: s, Tools: tools, File: file, FullAccess: fullAccess}, nil
}

// FromInstalled returns the answers that reproduce an installation, so the
// wizard opens with the current values. all is the wizard's tool list: the
// installed tools are its entries, in its order (a tool that comes with
// another is not an entry).
func FromInstalled(in Installed, address string, all []Tool) Answers {
	a := Defaults(address)
	s := in.Settings
	if s.TLSEnabled() {
		a.Domain = s.ACMEDomain
	}
	a.AcceptTerms = a.Domain != "" // accepted when the certificate was obtained
	a.Email = s.ACMEEmail
	a.Port = s.Port
	a.FullAccess = in.FullAccess
	a.Tools = nil
	for _, t := range all {
		if slices.Contains(in.Tools, t.Name) {
			a.Tools = append(a.Tools, t.Name)
		}
	}
	a.OAuth = s.OAuthClientID != "" && s.OAuthEnabled()
	return a
}

// ToolsValue is SERVAGENT_TOOLS for the selection: "all" when every tool is
// selected (new tools of later versions included), else the comma list.
func ToolsValue(selected []string, all []Tool) string {
	if len(all) > 0 && len(selected) == len(all) {
		return "all"
	}
	return strings.Join(selected, ",")
}

// ValidatePort accepts a TCP port number given as text.
func ValidatePort(s string) error {
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("expected a port number between 1 and 65535, got %q", s)
	}
	return nil
}

// ValidateEmail accepts "" (no contact address) or one plain address.
func ValidateEmail(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return fmt.Errorf("expected an address such as admin@example.com, got %q", s)
	}
	return nil
}

// Validate checks the answers as a whole.
func (a Answers) Validate() error {
	if a.Domain != "" && !a.AcceptTerms {
		return fmt.Errorf("a certificate for %s needs the CA's terms of service accepted", a.Domain)
	}
	if err := ValidateEmail(a.Email); err != nil {
		return err
	}
	if a.Port < 1 || a.Port > 65535 {
		return fmt.Errorf("port %d: expected 1-65535", a.Port)
	}
	if len(a.Tools) == 0 {
		return fmt.Errorf("select at least one tool")
	}
	if a.OAuth && a.Domain == "" {
		return fmt.Errorf("OAuth connectors need HTTPS: give a domain")
	}
	for _, s := range a.Skills {
		if _, ok := Templates[s]; !ok {
			return fmt.Errorf("unknown skill template %q", s)
		}
	}
	return nil
}

// MCPURL is the endpoint clients use with these answers: HTTPS on the
// domain, else plain HTTP on the address, written as install and serve
// write it (clientconfig.MCPURL: no port when it is the scheme's default).
func (a Answers) MCPURL() string {
	return clientconfig.MCPURL(a.Domain != "", a.Address, a.Port, a.Domain)
}
