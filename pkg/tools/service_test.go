package tools

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/servagent/servagent/pkg/systemd"
)

func TestServiceActionNoSystemd(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.Systemd.RunDir = filepath.Join(t.TempDir(), "absent")
	toolError(t, callTool(t, env, "service_action", map[string]any{"service": "nginx", "action": "status"}),
		"systemd is not running", "execute_command")
}

func TestServiceActionRestartArgv(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	dir := fakeSystemd(t, env)
	res := callTool(t, env, "service_action", map[string]any{"service": "nginx.service", "action": "restart"})
	out := structured[ServiceActionOutput](t, res)
	if out.ActiveState != "active" || out.SubState != "running" || out.UsedSudo {
		t.Errorf("got %+v", out)
	}
	if !strings.Contains(resultText(res), "nginx.service is now active (running)") {
		t.Errorf("text %q", resultText(res))
	}
	calls := fakeCalls(t, dir)
	want := [][]string{
		{"systemctl", "--no-pager", "--no-ask-password", "restart", "--", "nginx.service"},
		{"systemctl", "--no-pager", "show", "-p", "ActiveState", "-p", "SubState", "-p", "Result", "--", "nginx.service"},
	}
	// The state is read once, then again after the settle delay.
	if len(calls) != 3 || !slices.Equal(calls[0], want[0]) || !slices.Equal(calls[1], want[1]) || !slices.Equal(calls[2], want[1]) {
		t.Errorf("argv:\n got %q\nwant %q then the show again", calls, want)
	}
}

func TestServiceActionReadOnlyActions(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	dir := fakeSystemd(t, env)
	structured[ServiceActionOutput](t, callTool(t, env, "service_action", map[string]any{"service": "php8.2-fpm", "action": "status"}))
	structured[ServiceActionOutput](t, callTool(t, env, "service_action", map[string]any{"service": "getty@tty1", "action": "IS-ACTIVE"}))
	calls := fakeCalls(t, dir)
	if len(calls) != 2 ||
		!slices.Equal(calls[0], []string{"systemctl", "--no-pager", "--no-ask-password", "--full", "status", "--", "php8.2-fpm"}) ||
		!slices.Equal(calls[1], []string{"systemctl", "--no-pager", "--no-ask-password", "is-active", "--", "getty@tty1"}) {
		t.Errorf("argv %q", calls)
	}
}

// The reference built `systemctl <action> <service>` as a shell string.
func TestServiceActionRejectsInjection(t *testing.T) {
	t.Parallel()
	canary := filepath.Join(os.TempDir(), "pwned-"+sysRandName(t))
	env := newTestEnv(t)
	dir := fakeSystemd(t, env)
	bad := []string{
		"nginx; touch " + canary, "-H", "--host=evil", "../x", "$(id)", "`id`", "nginx && id", "nginx|id",
		"nginx\nid", "ngi nx", "a/b", "", ".hidden", "x'y", strings.Repeat("a", 257),
	}
	for _, s := range bad {
		toolError(t, callTool(t, env, "service_action", map[string]any{"service": s, "action": "restart"}), "service")
	}
	toolError(t, callTool(t, env, "service_action", map[string]any{"service": "nginx", "action": "restart; id"}), "not supported")
	toolError(t, callTool(t, env, "service_action", map[string]any{"service": "nginx", "action": "mask"}), "not supported")
	if calls := fakeCalls(t, dir); len(calls) != 0 {
		t.Errorf("systemctl was run for rejected input: %q", calls)
	}
	if _, err := os.Stat(canary); !os.IsNotExist(err) {
		os.Remove(canary)
		t.Fatal("injection reached a shell")
	}
	if err := validateUnit("service", strings.Repeat("a", 256)); err != nil {
		t.Errorf("256 characters must be accepted: %v", err)
	}
	if err := validateUnit("service", `systemd-fsck@dev-disk-by\x2duuid-1234.service`); err != nil {
		t.Errorf("escaped unit name rejected: %v", err)
	}
}

// The hints keep the systemd package's error as their cause, word for word.
func TestSystemdHintsWrapTheCause(t *testing.T) {
	t.Parallel()
	err := validateUnit("service", "ngi nx")
	if !errors.Is(err, systemd.ErrUnitCharset) {
		t.Errorf("errors.Is(%q, ErrUnitCharset) is false", err)
	}
	want := `service "ngi nx" is not a valid systemd unit name: ` + systemd.ErrUnitCharset.Error() +
		"; find the exact name with list_processes or `systemctl list-units` via execute_command"
	if err == nil || err.Error() != want {
		t.Errorf("got %q\nwant %q", err, want)
	}
	err = booted(systemd.Systemd{RunDir: filepath.Join(t.TempDir(), "absent")})
	var nb *systemd.NotBootedError
	if !errors.As(err, &nb) || !strings.HasPrefix(err.Error(), nb.Error()+": manage services with execute_command") {
		t.Errorf("booted: %v does not wrap a *NotBootedError", err)
	}
}

func TestServiceActionSudoWhenNotRoot(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	dir := fakeSystemd(t, env)
	env.Systemd.Euid = func() int { return 1000 }
	out := structured[ServiceActionOutput](t, callTool(t, env, "service_action", map[string]any{"service": "nginx", "action": "stop"}))
	if !out.UsedSudo || out.ActiveState != "active" {
		t.Errorf("got %+v", out)
	}
	structured[ServiceActionOutput](t, callTool(t, env, "service_action", map[string]any{"service": "nginx", "action": "is-enabled"}))
	calls := fakeCalls(t, dir)
	sudoArgv := []string{"sudo", "-n", env.Systemd.Systemctl, "--no-pager", "--no-ask-password", "stop", "--", "nginx"}
	if len(calls) < 3 || !slices.Equal(calls[0], sudoArgv) || calls[1][0] != "systemctl" {
		t.Fatalf("argv %q", calls)
	}
	// Read-only actions do not go through sudo.
	if last := calls[len(calls)-1]; !slices.Equal(last, []string{"systemctl", "--no-pager", "--no-ask-password", "is-enabled", "--", "nginx"}) {
		t.Errorf("is-enabled argv %q", last)
	}
}

func TestServiceActionFailures(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	dir := fakeSystemd(t, env)
	// A start that systemctl accepts but that leaves the unit failed.
	os.WriteFile(filepath.Join(dir, "state"), []byte("ActiveState=failed\nSubState=failed\n"), 0o644)
	toolError(t, callTool(t, env, "service_action", map[string]any{"service": "app", "action": "start"}),
		"the unit is failed", "journalctl_unit=app")
	// A oneshot unit that ran and exited successfully is not a failure.
	os.WriteFile(filepath.Join(dir, "state"), []byte("ActiveState=inactive\nSubState=dead\nResult=success\n"), 0o644)
	if out := structured[ServiceActionOutput](t, callTool(t, env, "service_action", map[string]any{"service": "certbot-renew", "action": "start"})); out.Result != "success" {
		t.Errorf("oneshot: %+v", out)
	}
	os.WriteFile(filepath.Join(dir, "state"), []byte("ActiveState=inactive\nSubState=dead\nResult=exit-code\n"), 0o644)
	toolError(t, callTool(t, env, "service_action", map[string]any{"service": "app", "action": "restart"}), "result exit-code")
	// status of a stopped unit whose logs say "not found" is still a status.
	os.WriteFile(filepath.Join(dir, "exit"), []byte("3"), 0o644)
	os.WriteFile(filepath.Join(dir, "msg"), []byte("app.service - App\n  Active: inactive (dead)\nNov 25 app[1]: config file not found\n"), 0o644)
	if out := structured[ServiceActionOutput](t, callTool(t, env, "service_action", map[string]any{"service": "app", "action": "status"})); out.ExitCode != 3 {
		t.Errorf("status: %+v", out)
	}
	// systemctl itself failing.
	os.WriteFile(filepath.Join(dir, "exit"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(dir, "msg"), []byte("Job for app.service failed because the control process exited with error code.\n"), 0o644)
	toolError(t, callTool(t, env, "service_action", map[string]any{"service": "app", "action": "restart"}),
		"failed (exit 1)", "Job for app.service failed", "journalctl_unit=app")
	os.WriteFile(filepath.Join(dir, "exit"), []byte("5"), 0o644)
	os.WriteFile(filepath.Join(dir, "msg"), []byte("Failed to start nope.service: Unit nope.service not found.\n"), 0o644)
	toolError(t, callTool(t, env, "service_action", map[string]any{"service": "nope", "action": "start"}), "not found", "list-units")
	// is-active answering "inactive" with exit 3 is an answer, not an error.
	os.WriteFile(filepath.Join(dir, "exit"), []byte("3"), 0o644)
	os.WriteFile(filepath.Join(dir, "msg"), []byte("inactive\n"), 0o644)
	out := structured[ServiceActionOutput](t, callTool(t, env, "service_action", map[string]any{"service": "app", "action": "is-active"}))
	if out.ExitCode != 3 || !strings.Contains(out.Output, "inactive") {
		t.Errorf("got %+v", out)
	}
}

// systemctl runs with the environment pkg/systemd gives it, over the
// server's own locale and pager, and still without the server's secrets.
func TestServiceActionSystemdEnvironment(t *testing.T) {
	env := newTestEnv(t)
	fakeSystemd(t, env)
	env.SecretEnv = []string{"SERVAGENT_TEST_SECRET"}
	t.Setenv("SERVAGENT_TEST_SECRET", "hunter2")
	t.Setenv("LC_ALL", "fr_FR.UTF-8")
	t.Setenv("SYSTEMD_PAGER", "less")
	script := "#!/bin/sh\nprintf 'LC_ALL=%s PAGER=%s AGENT=%s SECRET=%s\\n' \"$LC_ALL\" \"${SYSTEMD_PAGER-unset}\" \"$SYSTEMD_ASK_PASSWORD_AGENT\" \"${SERVAGENT_TEST_SECRET-unset}\"\n"
	if err := os.WriteFile(env.Systemd.Systemctl, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out := structured[ServiceActionOutput](t, callTool(t, env, "service_action", map[string]any{"service": "nginx", "action": "is-active"}))
	if out.Output != "LC_ALL=C PAGER= AGENT=0 SECRET=unset\n" {
		t.Errorf("systemctl's environment: %q", out.Output)
	}
}
