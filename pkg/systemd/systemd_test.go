package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeBin writes an executable shell script named name into dir.
func fakeBin(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeHost is a Systemd on fake programs in a temp dir, run for real.
func fakeHost(t *testing.T, systemctl, journalctl string) (Systemd, string) {
	t.Helper()
	dir := t.TempDir()
	return Systemd{
		Systemctl:  fakeBin(t, dir, "systemctl", systemctl),
		Journalctl: fakeBin(t, dir, "journalctl", journalctl),
		Sudo:       fakeBin(t, dir, "sudo", `exec "$@"`),
		RunDir:     dir,
		Euid:       func() int { return 0 },
		Exec:       Command,
	}, dir
}

func TestValidateUnit(t *testing.T) {
	for _, ok := range []string{"nginx", "nginx.service", "getty@tty1.service", "php8.2-fpm", `systemd-fsck@dev-disk-by\x2duuid-1234.service`, "a:b_c", strings.Repeat("a", 256)} {
		if err := ValidateUnit("service", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, c := range []struct{ name, want string }{
		{"", "service is empty"},
		{strings.Repeat("a", 257), "257 characters"},
		{"-H", "read as an option"},
		{"--host=evil", "read as an option"},
		{".hidden", "starts with '.'"},
		{"nginx; id", "not a valid systemd unit name"},
		{"a/b", "not a valid systemd unit name"},
		{"$(id)", "not a valid systemd unit name"},
		{"ngi nx", "not a valid systemd unit name"},
		{"nginx\nid", "not a valid systemd unit name"},
		{"x'y", "not a valid systemd unit name"},
	} {
		err := ValidateUnit("service", c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.name, err, c.want)
		}
		if got := errors.Is(err, ErrUnitCharset); got != strings.Contains(c.want, "not a valid") {
			t.Errorf("%q: errors.Is(ErrUnitCharset) = %v", c.name, got)
		}
	}
}

func ExampleValidateUnit() {
	fmt.Println(ValidateUnit("journalctl_unit", "nginx && reboot"))
	// Output: journalctl_unit "nginx && reboot" is not a valid systemd unit name: only letters, digits and : _ . \ @ - are allowed (no spaces, slashes, quotes or shell syntax)
}

func TestBooted(t *testing.T) {
	dir := t.TempDir()
	if err := (Systemd{RunDir: dir}).Booted(); err != nil {
		t.Errorf("existing run dir: %v", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for _, p := range []string{filepath.Join(dir, "absent"), file, ""} {
		var nb *NotBootedError
		err := Systemd{RunDir: p}.Booted()
		if !errors.As(err, &nb) || nb.RunDir != p || nb.Init == "" || !strings.Contains(err.Error(), "systemd is not running") {
			t.Errorf("RunDir %q: %v", p, err)
		}
	}
}

func TestSystemctlArgvResolvesTheProgram(t *testing.T) {
	s, dir := fakeHost(t, "", "")
	argv, err := s.SystemctlArgv("restart", "--", "nginx")
	if want := []string{filepath.Join(dir, "systemctl"), "--no-pager", "restart", "--", "nginx"}; err != nil || !slices.Equal(argv, want) {
		t.Errorf("argv %q, %v; want %q", argv, err, want)
	}
	s.Systemctl = filepath.Join(dir, "absent")
	if _, err := s.SystemctlArgv("status"); err == nil || !strings.Contains(err.Error(), "systemctl not found") {
		t.Errorf("missing systemctl: %v", err)
	}
}

func TestJournalArgv(t *testing.T) {
	s, dir := fakeHost(t, "", "")
	jctl := filepath.Join(dir, "journalctl")
	argv, err := s.JournalArgv("nginx", 7, false)
	if want := []string{jctl, "--no-pager", "--unit=nginx", "-n", "7"}; err != nil || !slices.Equal(argv, want) {
		t.Errorf("argv %q, %v; want %q", argv, err, want)
	}
	argv, _ = s.JournalArgv("nginx", 50, true)
	if want := []string{jctl, "--no-pager", "--unit=nginx", "-n", "50", "-f"}; !slices.Equal(argv, want) {
		t.Errorf("follow argv %q, want %q", argv, want)
	}
	s.Journalctl = ""
	if _, err := s.JournalArgv("nginx", 1, false); !errors.Is(err, ErrNoJournalctl) {
		t.Errorf("missing journalctl: %v", err)
	}
}

func TestAsRoot(t *testing.T) {
	s, dir := fakeHost(t, "", "")
	argv := []string{"/bin/systemctl", "stop", "--", "nginx"}
	if got, used := s.AsRoot(argv); used || !slices.Equal(got, argv) {
		t.Errorf("as root: %q %v", got, used)
	}
	s.Euid = func() int { return 1000 }
	if got, used := s.AsRoot(argv); !used || !slices.Equal(got, append([]string{filepath.Join(dir, "sudo"), "-n"}, argv...)) {
		t.Errorf("not root: %q %v", got, used)
	}
	s.Sudo = filepath.Join(dir, "absent")
	if got, used := s.AsRoot(argv); used || !slices.Equal(got, argv) {
		t.Errorf("not root, no sudo: %q %v", got, used)
	}
}

// Run executes the real program with the environment systemctl needs, even
// over the caller's own values, and folds what it said into the error.
func TestRunEnvironmentAndErrors(t *testing.T) {
	s, dir := fakeHost(t, `
printf '%s|' "$@" > "$(dirname "$0")/args"
printf 'PAGER=%s AGENT=%s LC_ALL=%s\n' "${SYSTEMD_PAGER-unset}" "$SYSTEMD_ASK_PASSWORD_AGENT" "$LC_ALL" > "$(dirname "$0")/env"
if [ "$1" = restart ]; then echo "Job for app.service failed." >&2; exit 1; fi
`, "")
	t.Setenv("LC_ALL", "fr_FR.UTF-8")
	t.Setenv("SYSTEMD_PAGER", "less")
	if err := s.Run(context.Background(), "daemon-reload"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "env")); string(b) != "PAGER= AGENT=0 LC_ALL=C\n" {
		t.Errorf("environment: %q", b)
	}
	err := s.Run(context.Background(), "restart", "app.service")
	if err == nil || !strings.Contains(err.Error(), "systemctl restart app.service: exit status 1: Job for app.service failed.") {
		t.Errorf("failure: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "args")); string(b) != "restart|app.service|" {
		t.Errorf("argv: %q", b)
	}
	s.Systemctl = filepath.Join(dir, "absent")
	if err := s.Run(context.Background(), "daemon-reload"); err == nil || !strings.Contains(err.Error(), "absent daemon-reload") {
		t.Errorf("missing program: %v", err)
	}
}

func TestJournalTail(t *testing.T) {
	s, _ := fakeHost(t, "", `printf '%s ' "$@"; printf '\nline two\n\n'`)
	if got := s.JournalTail(context.Background(), "app.service", 30); got != "-u app.service -n 30 --no-pager -o cat \nline two" {
		t.Errorf("got %q", got)
	}
	s.Journalctl = filepath.Join(t.TempDir(), "absent")
	if got := s.JournalTail(context.Background(), "app.service", 30); got != "" {
		t.Errorf("missing journalctl: %q", got)
	}
}

// A Systemd nobody built runs nothing, so a test that forgets one cannot
// restart a unit on the machine running it.
func TestZeroValueRunsNothing(t *testing.T) {
	var s Systemd
	if err := s.Run(context.Background(), "daemon-reload"); err == nil || !strings.Contains(err.Error(), "systemd.Host()") {
		t.Errorf("Run: %v", err)
	}
	if got := s.JournalTail(context.Background(), "x", 1); got != "" {
		t.Errorf("JournalTail: %q", got)
	}
	if _, err := s.SystemctlArgv("status"); err == nil {
		t.Error("SystemctlArgv resolved an empty program name")
	}
	if s.Booted() == nil {
		t.Error("a zero Systemd says systemd runs")
	}
	// Exec set but no program names: still nothing.
	s.Exec = func(context.Context, []string, []string) (string, error) { t.Fatal("ran"); return "", nil }
	if err := s.Run(context.Background(), "daemon-reload"); err == nil {
		t.Error("Run with no program name succeeded")
	}
}

func TestHostIsTheRealMachine(t *testing.T) {
	h := Host()
	if h.Systemctl != "systemctl" || h.Journalctl != "journalctl" || h.Sudo != "sudo" || h.RunDir != BootedDir || h.Euid() != os.Geteuid() || h.Exec == nil {
		t.Errorf("Host() = %+v", h)
	}
}
