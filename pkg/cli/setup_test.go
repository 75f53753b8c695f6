package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/setup"
	"github.com/servagent/servagent/pkg/system"
	"github.com/servagent/servagent/pkg/tools"
)

// TestMain lets the tmux test run this test binary as `servagent setup`
// (SERVAGENT_TEST_SETUP=1), with the installation under a temp root.
func TestMain(m *testing.M) {
	if os.Getenv("SERVAGENT_TEST_SETUP") == "1" {
		var cmd *cobra.Command
		cmd = newSetupCmd(NewFactory(StdIO()), func(o *SetupOptions) error {
			o.Lifecycle.Layout = system.Layout{Root: os.Getenv("SERVAGENT_TEST_ROOT")}
			o.Address = "203.0.113.9"
			return runSetup(cmd.Context(), o)
		})
		cmd.SetArgs(os.Args[2:]) // after "setup"
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			os.Stderr.WriteString("servagent: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// accessibleSetup runs setup --accessible --dry-run with stdin from a pipe.
func accessibleSetup(t *testing.T, root, input string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	d, _ := lcDeps(t, 1000)
	d.Layout = system.Layout{Root: root}
	o := &SetupOptions{IO: IO{In: strings.NewReader(input), Out: &out, ErrOut: &errOut},
		DryRun: true, Accessible: true, Lifecycle: d, Address: "203.0.113.9"}
	err := runSetup(context.Background(), o)
	return out.String(), errOut.String(), err
}

func TestSetupAccessibleOverPipe(t *testing.T) {
	root := t.TempDir()
	// mode: default (IP); address, port; no sudo; tools: toggle read_file
	// (2), done; skills: webserver (1), done.
	out, prompts, err := accessibleSetup(t, root, "\n198.51.100.4\n9000\nn\n2\n0\n1\n0\n")
	if err != nil {
		t.Fatalf("setup: %v\nprompts:\n%s", err, prompts)
	}
	for _, s := range []string{"how will clients reach this server?", "Address clients use", "Give the AI full sudo access?",
		"execute_command", "Run a shell command on the server", "Skills to start from"} {
		if !strings.Contains(prompts, s) {
			t.Errorf("prompts lack %q:\n%s", s, prompts)
		}
	}
	for _, s := range []string{"MCP endpoint: http://198.51.100.4:9000/mcp", "SERVAGENT_TOOLS=execute_command,read_file,upload_file",
		"Dry run: nothing was changed", "2. sudo servagent install --port 9000 --full-access=false --yes",
		"servagent skills add webserver", "/opt/servagent/skills/webserver/SKILL.md"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("dry run wrote %v", entries)
	}
}

func TestSetupInputEndsCancels(t *testing.T) {
	root := t.TempDir()
	_, _, err := accessibleSetup(t, root, "\n198.51.100.4\n")
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err = %v, want exit 1 saying nothing was changed", err)
	}
}

func TestSetupInstalledShowsChangesKeepsLines(t *testing.T) {
	root := t.TempDir()
	l := system.Layout{Root: root}
	if err := os.MkdirAll(l.Path(system.InstallDir), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(l.Path(system.ManifestPath), []byte(`{"created_user":true,"full_access":false,"version":"v1"}`), 0o644)
	env := "# my notes\nSERVAGENT_API_KEY=k\nSERVAGENT_PORT=8765\nSERVAGENT_TOOLS=execute_command,upload_file\nMY_OWN=1\n"
	os.WriteFile(l.Path(system.EnvFile), []byte(env), 0o600)
	// Keep mode, address and port; sudo yes; tools: all (select the 16
	// others); no skills.
	in := "\n\n\ny\n"
	for i := 2; i <= 18; i++ {
		if i != 7 { // upload_file is the 7th, already selected
			in += strconv.Itoa(i) + "\n"
		}
	}
	in += "0\n0\n"
	out, prompts, err := accessibleSetup(t, root, in)
	if err != nil {
		t.Fatalf("setup: %v\nprompts:\n%s", err, prompts)
	}
	for _, s := range []string{"Changes:", "full sudo access: no -> yes", "tools: execute_command,upload_file -> all",
		"2. sudo servagent install --full-access --yes", "# my notes\n", "MY_OWN=1\n", "SERVAGENT_TOOLS=all\n", "keep the API key"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if got, _ := os.ReadFile(l.Path(system.EnvFile)); string(got) != env {
		t.Errorf("dry run changed .env:\n%s", got)
	}
}

// TestSetupRefusesAnInstalledValueServeWouldRefuse: setup reads the
// installation through its typed settings, so a value that serve would
// refuse (a port that is no number, an unknown tool) stops it with a line
// naming the variable, before any question and with nothing changed.
func TestSetupRefusesAnInstalledValueServeWouldRefuse(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{"SERVAGENT_PORT=eighty", `invalid SERVAGENT_PORT="eighty"`},
		{"SERVAGENT_TOOLS=execute_command,no_such_tool", `invalid SERVAGENT_TOOLS="execute_command,no_such_tool": unknown tool "no_such_tool"`},
	} {
		root := t.TempDir()
		l := system.Layout{Root: root}
		if err := os.MkdirAll(l.Path(system.InstallDir), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(l.Path(system.ManifestPath), []byte(`{"created_user":true,"full_access":false,"version":"v1"}`), 0o644)
		env := "SERVAGENT_API_KEY=k\n" + c.line + "\n"
		os.WriteFile(l.Path(system.EnvFile), []byte(env), 0o600)
		out, prompts, err := accessibleSetup(t, root, "\n\n\n")
		if err == nil || !strings.Contains(err.Error(), "reading the installation") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one naming %s", c.line, err, c.want)
		}
		if prompts != "" || out != "" {
			t.Errorf("%s: setup went on: prompts %q, output %q", c.line, prompts, out)
		}
		if got, _ := os.ReadFile(l.Path(system.EnvFile)); string(got) != env {
			t.Errorf("%s: .env changed:\n%s", c.line, got)
		}
	}
}

func TestSetupNeedsTerminal(t *testing.T) {
	d, _ := lcDeps(t, 0)
	ios, _, _ := lcIO()
	err := runSetup(context.Background(), &SetupOptions{IO: ios, Lifecycle: d})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 2 || !strings.Contains(err.Error(), "servagent install") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v, want one line, exit 2, with the install flags", err)
	}
}

// tmuxSession runs this test binary as `servagent setup ARGS` in a detached
// tmux of 120x50 on a private socket.
type tmuxSession struct {
	t    *testing.T
	sock string
}

func newTmux(t *testing.T, args string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed (apt-get install tmux): the terminal snapshots of setup need it")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s := &tmuxSession{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	script := "SERVAGENT_TEST_SETUP=1 SERVAGENT_TEST_ROOT=" + t.TempDir() + " TERM=xterm-256color " + exe + " " + args +
		"; echo EXIT=$?; sleep 30"
	if out, err := exec.Command("tmux", "-S", s.sock, "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "50", "sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-S", s.sock, "kill-server").Run() })
	return s
}

func (s *tmuxSession) keys(k ...string) {
	s.t.Helper()
	if out, err := exec.Command("tmux", append([]string{"-S", s.sock, "send-keys", "-t", "0"}, k...)...).CombinedOutput(); err != nil {
		s.t.Fatalf("send-keys %v: %v: %s", k, err, out)
	}
}

// waitFor returns the screen once it contains want.
func (s *tmuxSession) waitFor(want string) string {
	s.t.Helper()
	var screen string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err := exec.Command("tmux", "-S", s.sock, "capture-pane", "-p", "-t", "0").Output()
		if err != nil {
			s.t.Fatalf("capture-pane: %v", err)
		}
		if screen = string(out); strings.Contains(screen, want) {
			return screen
		}
	}
	s.t.Fatalf("screen never showed %q; last screen:\n%s", want, screen)
	return ""
}

func TestSetupTmuxDryRun(t *testing.T) {
	s := newTmux(t, "setup --dry-run")
	first := s.waitFor("how will clients reach this server?")
	for _, want := range []string{"Nothing is changed before the summary is confirmed", "Public domain name, HTTPS", "> IP address and port, plain HTTP"} {
		if !strings.Contains(first, want) {
			t.Errorf("first screen lacks %q:\n%s", want, first)
		}
	}
	s.keys("Enter")
	s.waitFor("Address clients use")
	s.keys("Enter")
	s.waitFor("Port")
	s.keys("Enter")
	s.waitFor("Give the AI full sudo access?")
	s.keys("Enter")
	tools := s.waitFor("Tools to expose")
	for _, want := range []string{"execute_command", "Run a shell command on the server", "read_file", "get_environment", "service_action"} {
		if !strings.Contains(tools, want) {
			t.Errorf("tools screen lacks %q:\n%s", want, tools)
		}
	}
	// The defaults are selected, read_file is not.
	for _, line := range strings.Split(tools, "\n") {
		sel := strings.Contains(line, "✓")
		switch {
		case strings.Contains(line, "execute_command  ") && !sel, strings.Contains(line, "upload_file  ") && !sel:
			t.Errorf("default tool not selected: %q", line)
		case strings.Contains(line, "read_file  ") && sel:
			t.Errorf("read_file selected by default: %q", line)
		}
	}
	s.keys("Down", "Space", "Enter")
	s.waitFor("Skills to start from")
	s.keys("Enter")
	summary := s.waitFor("EXIT=")
	for _, want := range []string{"MCP endpoint: http://203.0.113.9:8765/mcp", "SERVAGENT_TOOLS=execute_command,read_file,upload_file",
		"Dry run: nothing was changed", "sudo servagent install --full-access=false --yes", "EXIT=0"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary screen lacks %q:\n%s", want, summary)
		}
	}
}

func TestSetupTmuxEscChangesNothing(t *testing.T) {
	s := newTmux(t, "setup --dry-run")
	s.waitFor("how will clients reach this server?")
	s.keys("Escape")
	screen := s.waitFor("EXIT=")
	if !strings.Contains(screen, "setup cancelled; nothing was changed") || !strings.Contains(screen, "EXIT=1") {
		t.Errorf("after Esc:\n%s", screen)
	}
}

func TestSetupAccessibleDomainOAuth(t *testing.T) {
	root := t.TempDir()
	// mode 1 (domain); the name does not resolve: use it anyway; email;
	// terms yes; sudo no; tools done; OAuth yes; skills done.
	out, prompts, err := accessibleSetup(t, root, "1\nMCP.Servagent.invalid.\ny\nops@servagent.invalid\ny\nn\n0\ny\n0\n")
	if err != nil {
		t.Fatalf("setup: %v\nprompts:\n%s", err, prompts)
	}
	for _, s := range []string{"Warning: mcp.servagent.invalid does not resolve", "Accept the Let's Encrypt Subscriber Agreement?",
		"Enable OAuth for Claude.ai and ChatGPT connectors?"} {
		if !strings.Contains(prompts, s) {
			t.Errorf("prompts lack %q:\n%s", s, prompts)
		}
	}
	for _, s := range []string{"MCP endpoint: https://mcp.servagent.invalid/mcp", "SERVAGENT_OAUTH_ISSUER_URL=https://mcp.servagent.invalid/mcp",
		"SERVAGENT_OAUTH_CLIENT_ID=servagent-", "SERVAGENT_OAUTH_CLIENT_SECRET=", "obtain (or keep) a Let's Encrypt certificate for mcp.servagent.invalid",
		"2. sudo servagent install mcp.servagent.invalid --email ops@servagent.invalid --full-access=false --yes"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

func TestSetupTermsDeclinedFallsBackToHTTP(t *testing.T) {
	// domain; use anyway; no email; terms no -> address, port, ...
	out, prompts, err := accessibleSetup(t, t.TempDir(), "1\nmcp.servagent.invalid\ny\n\nn\n\n\nn\n0\n0\n")
	if err != nil {
		t.Fatalf("setup: %v\nprompts:\n%s", err, prompts)
	}
	if !strings.Contains(prompts, "continuing with plain HTTP") || !strings.Contains(out, "MCP endpoint: http://203.0.113.9:8765/mcp") {
		t.Errorf("prompts:\n%s\noutput:\n%s", prompts, out)
	}
}

func TestSetupAccessibleInterruptChangesNothing(t *testing.T) {
	root := t.TempDir()
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	d, _ := lcDeps(t, 0)
	d.Layout = system.Layout{Root: root}
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runSetup(ctx, &SetupOptions{IO: IO{In: pr, Out: &out, ErrOut: &errOut}, Accessible: true, Lifecycle: d, Address: "203.0.113.9"})
	}()
	time.Sleep(200 * time.Millisecond) // at the first question, blocked reading
	cancel()                           // what ctrl-c does through Main's signal context
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "nothing was changed") {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("setup kept waiting for input after ctrl-c")
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("interrupted setup wrote %v", entries)
	}
}

// TestToolListIsWhatClientsList: the wizard's tool list is every tool a
// client lists from a server with all tools, minus those that come with
// another, in canonical order, each with the first sentence of the
// description the client receives.
func TestToolListIsWhatClientsList(t *testing.T) {
	ctx := t.Context()
	s := mcp.NewServer(&mcp.Implementation{Name: "servagent-test", Version: "test"}, nil)
	if err := tools.Register(s, &tools.Env{}, tools.Names()); err != nil {
		t.Fatal(err)
	}
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	listed := map[string]string{}
	for tl, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		listed[tl.Name] = setup.FirstSentence(tl.Description)
	}
	var want []setup.Tool
	for _, n := range tools.Names() {
		if d, _ := tools.Lookup(n); d.With == "" {
			want = append(want, setup.Tool{Name: n, Summary: listed[n]})
		}
	}
	got := toolList()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("toolList:\n%v\nclients list:\n%v", got, want)
	}
	if len(got) < 10 || len(got) >= len(listed) {
		t.Errorf("toolList has %d tools of the %d listed: the job tools should be left out, the rest kept", len(got), len(listed))
	}
	for _, tl := range got {
		if tl.Summary == "" || strings.Contains(tl.Summary, "\n") {
			t.Errorf("%s: summary %q, want one non-empty line", tl.Name, tl.Summary)
		}
	}
}
