package setup

import (
	"context"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/servagent/servagent/pkg/clientconfig"
	"github.com/servagent/servagent/pkg/config"
)

var testTools = []Tool{{"execute_command", "Run a shell command"}, {"read_file", "Read a text file"}, {"upload_file", "Copy a file"}}

// installed is the installation whose .env holds env, as the wizard reads it.
func installed(t *testing.T, env map[string]string, fullAccess bool) *Installed {
	t.Helper()
	var valid []string
	for _, tl := range testTools {
		valid = append(valid, tl.Name)
	}
	in, err := NewInstalled(env, fullAccess, append(valid, "read_job_output"))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func creds(n *int) Credentials {
	return func() (string, string) { *n++; return "servagent-id", "s3cret-value" }
}

func TestFirstInstallPlan(t *testing.T) {
	a := Defaults("203.0.113.7")
	a.Domain, a.Email, a.AcceptTerms, a.Port = "mcp.example.com", "ops@example.com", true, 443
	a.FullAccess, a.OAuth, a.Skills = true, true, []string{"webserver", "docker"}
	var n int
	p, err := NewPlan(a, nil, testTools, func(s string) bool { return s == "docker" }, creds(&n))
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("credentials generated %d times, want 1", n)
	}
	want := map[string]string{
		"SERVAGENT_TOOLS":               "execute_command,upload_file",
		"SERVAGENT_OAUTH_CLIENT_ID":     "servagent-id",
		"SERVAGENT_OAUTH_CLIENT_SECRET": "s3cret-value",
		"SERVAGENT_OAUTH_ISSUER_URL":    "https://mcp.example.com/mcp",
	}
	if !reflect.DeepEqual(p.Env, want) {
		t.Errorf("Env = %v, want %v", p.Env, want)
	}
	if got := p.Command(); got != "sudo servagent install mcp.example.com --email ops@example.com --full-access --yes" {
		t.Errorf("Command = %q", got)
	}
	if !reflect.DeepEqual(p.Skills, []string{"webserver"}) {
		t.Errorf("Skills = %v (an existing skill is left alone)", p.Skills)
	}
	sum := p.Summary()
	for _, s := range []string{"MCP endpoint: https://mcp.example.com/mcp", "SERVAGENT_TOOLS=execute_command,upload_file",
		"/opt/servagent/skills/webserver/SKILL.md", "Run: sudo servagent install mcp.example.com", "create the system user servagent",
		"certificate for mcp.example.com", "servagent ALL=(ALL) NOPASSWD: ALL"} {
		if !strings.Contains(sum, s) {
			t.Errorf("summary lacks %q:\n%s", s, sum)
		}
	}
	if strings.Contains(sum, "s3cret-value") {
		t.Errorf("summary shows the OAuth secret:\n%s", sum)
	}
	if lines := p.EnvLines(true); !strings.Contains(strings.Join(lines, "\n"), "SERVAGENT_OAUTH_CLIENT_SECRET=s3cret-value") {
		t.Errorf("EnvLines(true) = %v", lines)
	}
}

func TestPlainHTTPPlan(t *testing.T) {
	a := Defaults("203.0.113.7")
	a.Port = 9000
	a.Tools = []string{"execute_command", "read_file", "upload_file"}
	p, err := NewPlan(a, nil, testTools, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Env["SERVAGENT_TOOLS"] != "all" {
		t.Errorf("every tool selected: SERVAGENT_TOOLS = %q, want all", p.Env["SERVAGENT_TOOLS"])
	}
	if got := p.Command(); got != "sudo servagent install --port 9000 --full-access=false --yes" {
		t.Errorf("Command = %q", got)
	}
	if got := a.MCPURL(); got != "http://203.0.113.7:9000/mcp" {
		t.Errorf("MCPURL = %q", got)
	}
}

func TestInstalledUnchangedAndChanged(t *testing.T) {
	env := map[string]string{
		"SERVAGENT_PORT": "443", "SERVAGENT_TOOLS": "all", "SERVAGENT_ACME_DOMAIN": "mcp.example.com",
		"SERVAGENT_TLS_CERTFILE": "/c", "SERVAGENT_TLS_KEYFILE": "/k",
		"SERVAGENT_ACME_EMAIL":      "ops@example.com",
		"SERVAGENT_OAUTH_CLIENT_ID": "old-id", "SERVAGENT_OAUTH_CLIENT_SECRET": "old", "SERVAGENT_OAUTH_ISSUER_URL": "https://mcp.example.com/mcp",
	}
	cur := installed(t, env, true)
	a := FromInstalled(*cur, "203.0.113.7", testTools)
	if a.Domain != "mcp.example.com" || a.Port != 443 || !a.FullAccess || !a.OAuth || len(a.Tools) != 3 || !a.AcceptTerms {
		t.Fatalf("FromInstalled = %+v", a)
	}
	p, err := NewPlan(a, cur, testTools, nil, func() (string, string) { t.Fatal("new credentials for an unchanged OAuth"); return "", "" })
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Env) != 0 || len(p.Changes) != 0 {
		t.Errorf("unchanged answers: Env %v, Changes %v", p.Env, p.Changes)
	}
	if !strings.Contains(p.Summary(), "No change") {
		t.Errorf("summary:\n%s", p.Summary())
	}
	http := installed(t, map[string]string{"SERVAGENT_PORT": "8765", "SERVAGENT_TOOLS": "execute_command"}, false)
	b := FromInstalled(*http, "203.0.113.7", testTools)
	b.Address = "192.0.2.44" // printed only: not a change to apply
	if p, err := NewPlan(b, http, testTools, nil, nil); err != nil || len(p.Changes) != 0 || len(p.Env) != 0 {
		t.Errorf("another client address: plan %+v, err %v", p, err)
	}

	// Back to plain HTTP, fewer tools, no OAuth, no sudo.
	a.Domain, a.Port, a.OAuth, a.FullAccess, a.Tools = "", 8765, false, false, []string{"execute_command"}
	p, err = NewPlan(a, cur, testTools, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"SERVAGENT_TLS_CERTFILE", "SERVAGENT_TLS_KEYFILE", "SERVAGENT_ACME_DOMAIN", "SERVAGENT_OAUTH_CLIENT_ID",
		"SERVAGENT_OAUTH_CLIENT_SECRET", "SERVAGENT_OAUTH_ISSUER_URL"} {
		if v, ok := p.Env[k]; !ok || v != "" {
			t.Errorf("%s not cleared: %q, %v", k, v, ok)
		}
	}
	if p.Env["SERVAGENT_TOOLS"] != "execute_command" {
		t.Errorf("tools = %q", p.Env["SERVAGENT_TOOLS"])
	}
	if got := p.Command(); got != "sudo servagent install --port 8765 --full-access=false --yes" {
		t.Errorf("Command = %q", got)
	}
	want := []Change{{"address", "https://mcp.example.com/mcp", "http://203.0.113.7:8765/mcp"}, {"full sudo access", "yes", "no"},
		{"tools", "all", "execute_command"}, {"OAuth connectors", "yes", "no"}}
	if !reflect.DeepEqual(p.Changes, want) {
		t.Errorf("Changes = %v\nwant %v", p.Changes, want)
	}
	if !strings.Contains(p.Summary(), "tools: all -> execute_command") {
		t.Errorf("summary:\n%s", p.Summary())
	}
}

func TestValidate(t *testing.T) {
	base := Defaults("192.0.2.1")
	for name, tc := range map[string]struct {
		edit func(*Answers)
		want string
	}{
		"terms":       {func(a *Answers) { a.Domain = "mcp.example.com" }, "terms of service"},
		"email":       {func(a *Answers) { a.Email = "not an address" }, "admin@example.com"},
		"port":        {func(a *Answers) { a.Port = 70000 }, "1-65535"},
		"no tools":    {func(a *Answers) { a.Tools = nil }, "at least one tool"},
		"oauth http":  {func(a *Answers) { a.OAuth = true }, "need HTTPS"},
		"bad skill":   {func(a *Answers) { a.Skills = []string{"nope"} }, "unknown skill"},
		"named email": {func(a *Answers) { a.Email = "Ops <ops@example.com>" }, "admin@example.com"},
	} {
		a := base
		a.Tools = append([]string(nil), base.Tools...)
		tc.edit(&a)
		_, err := NewPlan(a, nil, testTools, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, tc.want)
		}
	}
	for _, s := range []string{"0", "65536", "x", ""} {
		if ValidatePort(s) == nil {
			t.Errorf("ValidatePort(%q) accepted", s)
		}
	}
	if ValidatePort(" 443 ") != nil || ValidateEmail("") != nil || ValidateEmail("a@b.example") != nil {
		t.Error("valid input refused")
	}
}

func TestDomainWarning(t *testing.T) {
	ctx := context.Background()
	r := net.DefaultResolver
	if w := DomainWarning(ctx, r, "localhost", LocalAddrs()); w != "" {
		t.Errorf("localhost resolves here, got warning %q", w)
	}
	w := DomainWarning(ctx, r, "localhost", []net.IP{net.ParseIP("192.0.2.1")})
	if !strings.Contains(w, "not an address of this host") || !strings.Contains(w, "127.0.0.1") {
		t.Errorf("warning = %q", w)
	}
	if w := DomainWarning(ctx, r, "no-such-host.invalid", LocalAddrs()); !strings.Contains(w, "does not resolve") {
		t.Errorf("warning = %q", w)
	}
}

func TestTemplatesAndSummaries(t *testing.T) {
	for _, n := range TemplateNames {
		tp := Templates[n]
		if !strings.HasPrefix(string(tp.Content), "# "+n+"\n") || tp.Summary == "" {
			t.Errorf("template %s: summary %q, content starts %q", n, tp.Summary, string(tp.Content[:20]))
		}
	}
	if got := FirstSentence("Run a shell command on the server. Then more."); got != "Run a shell command on the server" {
		t.Errorf("FirstSentence = %q", got)
	}
	long := "Read a byte range of any file as base64, with the chunk's sha256, the file size, eof and next_offset. More."
	got := FirstSentence(long)
	if got != "Read a byte range of any file as base64, with the chunk's sha256, the…" || len([]rune(got)) > SummaryWidth {
		t.Errorf("FirstSentence(long) = %q (%d runes)", got, len([]rune(got)))
	}
}

// TestMCPURLIsTheOneInstallPrints: the wizard shows the endpoint exactly as
// install and serve print it (clientconfig.MCPURL), the scheme's default
// port left out, at ports 80, 443 and any other, over HTTP and HTTPS.
func TestMCPURLIsTheOneInstallPrints(t *testing.T) {
	for _, c := range []struct {
		domain, address string
		port            int
		want            string
	}{
		{"", "203.0.113.7", 80, "http://203.0.113.7/mcp"},
		{"", "203.0.113.7", 443, "http://203.0.113.7:443/mcp"},
		{"", "203.0.113.7", 8765, "http://203.0.113.7:8765/mcp"},
		{"", "2001:db8::7", 80, "http://[2001:db8::7]/mcp"},
		{"", "2001:db8::7", 8765, "http://[2001:db8::7]:8765/mcp"},
		{"", "[2001:db8::7]", 8765, "http://[2001:db8::7]:8765/mcp"},
		{"mcp.example.com", "203.0.113.7", 443, "https://mcp.example.com/mcp"},
		{"mcp.example.com", "203.0.113.7", 80, "https://mcp.example.com:80/mcp"},
		{"mcp.example.com", "203.0.113.7", 8443, "https://mcp.example.com:8443/mcp"},
	} {
		a := Defaults(c.address)
		a.Domain, a.Port = c.domain, c.port
		got := a.MCPURL()
		if got != c.want {
			t.Errorf("%q on %s:%d: MCPURL = %q, want %q", c.domain, c.address, c.port, got, c.want)
		}
		if printed := clientconfig.MCPURL(c.domain != "", c.address, c.port, c.domain); got != printed {
			t.Errorf("%q on %s:%d: the wizard shows %q, install prints %q", c.domain, c.address, c.port, got, printed)
		}
	}
}

// TestFromInstalledTools: the installed tools open the wizard as its own
// entries in its order, whatever the order and spelling of SERVAGENT_TOOLS;
// a tool that comes with another is no entry; unset is the default.
func TestFromInstalledTools(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"SERVAGENT_TOOLS": "upload_file, read_job_output,execute_command"}, []string{"execute_command", "upload_file"}},
		{map[string]string{"SERVAGENT_TOOLS": "ALL"}, []string{"execute_command", "read_file", "upload_file"}},
		{map[string]string{"SERVAGENT_TOOLS": "read_file,read_file"}, []string{"read_file"}},
		{map[string]string{}, config.DefaultTools()},
	} {
		a := FromInstalled(*installed(t, c.env, false), "203.0.113.7", testTools)
		if !reflect.DeepEqual(a.Tools, c.want) {
			t.Errorf("%v: Tools = %v, want %v", c.env, a.Tools, c.want)
		}
	}
	for env, want := range map[string]string{
		"execute_command,nope": `unknown tool "nope"`,
		"":                     "at least one tool",
	} {
		_, err := NewInstalled(map[string]string{"SERVAGENT_TOOLS": env}, false, []string{"execute_command"})
		if !config.IsConfigError(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("SERVAGENT_TOOLS=%q installed: %v, want a config error saying %q", env, err, want)
		}
	}
	if _, err := NewInstalled(map[string]string{"SERVAGENT_PORT": "x"}, false, []string{"execute_command"}); !config.IsConfigError(err) {
		t.Errorf("SERVAGENT_PORT=x installed: %v, want a config error", err)
	}
}

// An unchanged selection keeps the installed spelling: a list of every tool
// is not rewritten as "all", a companion listed without its tool is not
// dropped, and the summary's "No change" is true.
func TestUnchangedToolsKeepTheirSpelling(t *testing.T) {
	for _, tools := range []string{"execute_command,read_file,upload_file", "read_file,read_job_output", "upload_file,execute_command"} {
		cur := installed(t, map[string]string{"SERVAGENT_PORT": "8765", "SERVAGENT_TOOLS": tools}, false)
		a := FromInstalled(*cur, "203.0.113.7", testTools)
		p, err := NewPlan(a, cur, testTools, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Env) != 0 || len(p.Changes) != 0 || !strings.Contains(p.Summary(), "No change") {
			t.Errorf("%s, unchanged: Env %v, Changes %v\n%s", tools, p.Env, p.Changes, p.Summary())
		}
	}
	// Choosing every tool from a shorter list is a change, and says so.
	cur := installed(t, map[string]string{"SERVAGENT_PORT": "8765", "SERVAGENT_TOOLS": "execute_command"}, false)
	a := FromInstalled(*cur, "203.0.113.7", testTools)
	a.Tools = []string{"execute_command", "read_file", "upload_file"}
	p, err := NewPlan(a, cur, testTools, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Env["SERVAGENT_TOOLS"] != "all" || !slices.Contains(p.Changes, Change{"tools", "execute_command", "all"}) {
		t.Errorf("every tool chosen: Env %v, Changes %v", p.Env, p.Changes)
	}
}
