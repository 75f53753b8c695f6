package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servagent/servagent/pkg/system"
	"github.com/servagent/servagent/pkg/system/systemtest"
	"github.com/servagent/servagent/pkg/systemd"
)

// lcHost is a recording system.Host for the CLI tests.
type lcHost struct {
	cmds  []string
	users map[string]int
}

func (h *lcHost) Run(ctx context.Context, name string, args ...string) (string, error) {
	h.cmds = append(h.cmds, name+" "+strings.Join(args, " "))
	switch name {
	case "useradd":
		h.users[args[len(args)-1]] = 990
	case "userdel":
		delete(h.users, args[len(args)-1])
	}
	return "", nil
}
func (h *lcHost) LookupUser(n string) (int, int, bool, error) {
	u, ok := h.users[n]
	return u, u, ok, nil
}
func (h *lcHost) Chown(string, int, int) error { return nil }

// systemd records systemctl and journalctl in the same list, by program name.
func (h *lcHost) systemd() systemd.Systemd {
	return systemd.Systemd{Systemctl: "systemctl", Journalctl: "journalctl", Sudo: "sudo",
		Exec: func(ctx context.Context, argv, env []string) (string, error) {
			return h.Run(ctx, filepath.Base(argv[0]), argv[1:]...)
		}}
}

func lcDeps(t *testing.T, euid int) (lifecycleDeps, *lcHost) {
	h := &lcHost{users: map[string]int{}}
	return lifecycleDeps{
		Geteuid: func() int { return euid },
		IsTTY:   func() bool { return false },
		Confirm: func(string, string, bool) (bool, error) { t.Fatal("prompted without a terminal"); return false, nil },
		Layout:  system.Layout{Root: t.TempDir()},
		Host:    h,
		Systemd: h.systemd(),
	}, h
}

func lcIO() (IO, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, &out, &errOut
}

func TestLifecycleCommandsNeedRoot(t *testing.T) {
	ios, out, _ := lcIO()
	d, h := lcDeps(t, 1000)
	for name, run := range map[string]func() error{
		"install": func() error { return runInstall(context.Background(), &InstallOptions{IO: ios, Lifecycle: d}) },
		"uninstall": func() error {
			return runUninstall(context.Background(), &UninstallOptions{IO: ios, Lifecycle: d, Yes: true})
		},
		"update": func() error { return runUpdate(context.Background(), &UpdateOptions{IO: ios, Lifecycle: d}) },
		"tls setup": func() error {
			return runTLSSetup(context.Background(), &TLSSetupOptions{IO: ios, Lifecycle: d, Domain: "a.example.com"})
		},
	} {
		err := run()
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != 1 || !strings.Contains(err.Error(), "needs root") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s as non-root: %v", name, err)
		}
	}
	if len(h.cmds) != 0 || out.Len() != 0 {
		t.Errorf("non-root run did something: %v %q", h.cmds, out.String())
	}
}

func TestInstallFlags(t *testing.T) {
	ios, _, _ := lcIO()
	var got *InstallOptions
	cmd := newInstallCmd(&Factory{IO: ios}, func(o *InstallOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"mcp.example.com", "--full-access", "--port", "9000", "--email", "a@b.c", "--yes", "--no-start",
		"--rotate-key", "--acme-directory", "https://acme/dir", "--acme-ca-file", "/ca.pem", "--acme-http-port", "5002"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := InstallOptions{Domain: "mcp.example.com", FullAccess: true, FullAccessSet: true, Port: 9000, Email: "a@b.c", Yes: true,
		NoStart: true, RotateKey: true, ACMEDirectory: "https://acme/dir", ACMECAFile: "/ca.pem", ACMEHTTPPort: 5002, HealthTimeout: 30 * time.Second}
	g := *got
	g.IO, g.Lifecycle = IO{}, lifecycleDeps{}
	if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", want) {
		t.Errorf("got  %+v\nwant %+v", g, want)
	}
	cmd = newInstallCmd(&Factory{IO: ios}, func(o *InstallOptions) error { got = o; return nil })
	cmd.SetArgs([]string{})
	cmd.Execute()
	if got.FullAccessSet || got.ACMEHTTPPort != 80 || got.Domain != "" {
		t.Errorf("defaults: %+v", got)
	}
}

func TestUninstallUpdateTLSFlags(t *testing.T) {
	ios, _, _ := lcIO()
	var u *UninstallOptions
	c := newUninstallCmd(&Factory{IO: ios}, func(o *UninstallOptions) error { u = o; return nil })
	c.SetArgs([]string{"-y", "--keep-certs"})
	if err := c.Execute(); err != nil || !u.Yes || !u.KeepCerts {
		t.Errorf("uninstall: %v %+v", err, u)
	}
	t.Setenv("SERVAGENT_UPDATE_URL", "http://mirror.test")
	var up *UpdateOptions
	c = newUpdateCmd(&Factory{IO: ios}, func(o *UpdateOptions) error { up = o; return nil })
	c.SetArgs([]string{"--version", "v1.2.3", "--force", "--check"})
	if err := c.Execute(); err != nil || up.Version != "v1.2.3" || !up.Force || !up.Check || up.BaseURL != "http://mirror.test" {
		t.Errorf("update: %v %+v", err, up)
	}
	var ts *TLSSetupOptions
	c = newTLSSetupCmd(&Factory{IO: ios}, func(o *TLSSetupOptions) error { ts = o; return nil })
	c.SetArgs([]string{"mcp.example.com", "--email", "e@x.y", "--acme-directory", "https://acme/dir"})
	if err := c.Execute(); err != nil || ts.Domain != "mcp.example.com" || ts.Email != "e@x.y" || ts.ACMEDirectory != "https://acme/dir" || ts.Port != 443 {
		t.Errorf("tls setup: %v %+v", err, ts)
	}
	root := NewRootCmd(&Factory{IO: ios})
	if c, _, err := root.Find([]string{"tls", "setup"}); err != nil || c.Name() != "setup" {
		t.Errorf("tls setup not wired under root: %v", err)
	}
}

func TestInstallPrintsKeyOnceThenUninstall(t *testing.T) {
	d, h := lcDeps(t, 0)
	self := filepath.Join(t.TempDir(), "servagent")
	os.WriteFile(self, []byte("bin"), 0o755)
	port := systemtest.HealthServer(t, "v1.0.0")
	install := func(extra func(*InstallOptions)) string {
		ios, out, _ := lcIO()
		o := &InstallOptions{IO: ios, Lifecycle: d, SelfPath: self, Version: "v1.0.0", Port: port, Yes: true, ACMEHTTPPort: 80}
		if extra != nil {
			extra(o)
		}
		if err := runInstall(context.Background(), o); err != nil {
			t.Fatalf("install: %v\n%s", err, out.String())
		}
		return out.String()
	}
	first := install(nil)
	env, _ := os.ReadFile(filepath.Join(d.Layout.Root, system.EnvFile))
	var key string
	for _, l := range strings.Split(string(env), "\n") {
		if k, ok := strings.CutPrefix(l, "SERVAGENT_API_KEY="); ok {
			key = k
		}
	}
	if key == "" || !strings.Contains(first, "API key (shown only now") || !strings.Contains(first, "claude mcp add --transport http servagent http://") ||
		!strings.Contains(first, `"Authorization": "Bearer `+key+`"`) {
		t.Fatalf("first install output:\n%s", first)
	}
	second := install(nil)
	if strings.Contains(second, key) || !strings.Contains(second, "API key unchanged") {
		t.Fatalf("second install output:\n%s", second)
	}
	// Uninstall without --yes and without a terminal refuses, and removes nothing.
	ios, out, _ := lcIO()
	err := runUninstall(context.Background(), &UninstallOptions{IO: ios, Lifecycle: d})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("uninstall without confirmation: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.Layout.Root, system.InstallDir)); err != nil {
		t.Fatal("refused uninstall removed files")
	}
	// A terminal answer of "no" removes nothing either.
	d.IsTTY = func() bool { return true }
	d.Confirm = func(title, desc string, def bool) (bool, error) {
		if def || !strings.Contains(desc, system.InstallDir) {
			t.Errorf("prompt default %v, description %q", def, desc)
		}
		return false, nil
	}
	if err := runUninstall(context.Background(), &UninstallOptions{IO: ios, Lifecycle: d}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.Layout.Root, system.InstallDir)); err != nil {
		t.Fatal("answering no removed files")
	}
	if err := runUninstall(context.Background(), &UninstallOptions{IO: ios, Lifecycle: d, Yes: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.Layout.Root, system.InstallDir)); err == nil {
		t.Fatal("uninstall -y left the install dir")
	}
	out.Reset()
	if err := runUninstall(context.Background(), &UninstallOptions{IO: ios, Lifecycle: d, Yes: true}); err != nil || !strings.Contains(out.String(), "nothing to remove") {
		t.Fatalf("second uninstall: %v %q", err, out.String())
	}
	_ = h
}

func TestInstallAsksForFullAccessOnTerminal(t *testing.T) {
	d, _ := lcDeps(t, 0)
	d.IsTTY = func() bool { return true }
	asked := 0
	d.Confirm = func(title, desc string, def bool) (bool, error) { asked++; return true, nil }
	self := filepath.Join(t.TempDir(), "servagent")
	os.WriteFile(self, []byte("bin"), 0o755)
	ios, out, _ := lcIO()
	o := &InstallOptions{IO: ios, Lifecycle: d, SelfPath: self, Version: "v1", NoStart: true}
	if err := runInstall(context.Background(), o); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if asked != 1 {
		t.Fatalf("asked %d times", asked)
	}
	if _, err := os.Stat(filepath.Join(d.Layout.Root, system.SudoersPath)); err != nil {
		t.Fatal("answering yes did not grant full access")
	}
	// --yes never asks.
	o = &InstallOptions{IO: ios, Lifecycle: d, SelfPath: self, Version: "v1", NoStart: true, Yes: true}
	if err := runInstall(context.Background(), o); err != nil || asked != 1 {
		t.Fatalf("--yes: %v, asked %d", err, asked)
	}
}
