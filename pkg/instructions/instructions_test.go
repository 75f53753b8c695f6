package instructions

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestProbeIsBoundedAndFilled(t *testing.T) {
	start := time.Now()
	h := Probe(context.Background(), "/srv")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("probe took %v", d)
	}
	if h.Arch == "" || h.Kernel == "" || h.OS == "" || h.User == "" || h.Sudo == "" || h.WorkDir != "/srv" {
		t.Fatalf("incomplete host facts: %+v", h)
	}
	block := h.Block()
	for _, want := range []string{h.OS, h.Kernel, h.Hostname, "/srv", h.PackageManager, h.InitSystem} {
		if !strings.Contains(block, want) {
			t.Errorf("block lacks %q:\n%s", want, block)
		}
	}
}

func TestBuildOrderAndSkillReload(t *testing.T) {
	dir := t.TempDir()
	b := &Builder{Host: Host{OS: "TestOS", WorkDir: "/w"}, SkillsDir: dir}
	got := b.Build()
	if strings.Contains(got, "## Skills") {
		t.Fatal("skills section without skills")
	}
	if !strings.Contains(got, "## Rules") || !strings.Contains(got, "more than twice") {
		t.Fatalf("rules missing:\n%s", got)
	}
	os.MkdirAll(filepath.Join(dir, "web"), 0o755)
	os.WriteFile(filepath.Join(dir, "web", "SKILL.md"), []byte("Web root: /var/www\n"), 0o644)
	got = b.Build()
	ctx, skills, rules := strings.Index(got, "## This server"), strings.Index(got, "## Skills"), strings.Index(got, "## Rules")
	if !(ctx >= 0 && ctx < skills && skills < rules) {
		t.Fatalf("want context, skills, rules in that order:\n%s", got)
	}
	if !strings.Contains(got, "### web\n") || !strings.Contains(got, "Web root: /var/www") {
		t.Fatalf("skill not rendered:\n%s", got)
	}
	os.WriteFile(filepath.Join(dir, "web", "SKILL.md"), []byte("# Websites\nNow /srv/www\n"), 0o644)
	if got = b.Build(); !strings.Contains(got, "Now /srv/www") || strings.Contains(got, "/var/www") {
		t.Fatalf("edited skill not re-read:\n%s", got)
	}
}

func TestRulesTellHowToUseJobs(t *testing.T) {
	for _, want := range []string{"read_job_output", "wait_seconds", "pty: true", "waiting_for_input", "write_job_input", "Never type a password"} {
		if !strings.Contains(Rules, want) {
			t.Errorf("rules do not mention %q", want)
		}
	}
}

// The OS line is the os-release name as system_info reads it (here a file
// without PRETTY_NAME: NAME and VERSION), or the GOOS when there is none.
func TestOSName(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "os-release")
	if err := os.WriteFile(p, []byte("NAME=Alpine\nVERSION=3.20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := osName([]string{filepath.Join(dir, "absent"), p}); got != "Alpine 3.20" {
		t.Errorf("got %q", got)
	}
	if got := osName([]string{filepath.Join(dir, "absent")}); got != runtime.GOOS {
		t.Errorf("without os-release: got %q, want the GOOS", got)
	}
}
