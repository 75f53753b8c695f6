package tools

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSystemInfo(t *testing.T) {
	t.Parallel()
	res := callTool(t, newTestEnv(t), "system_info", nil)
	o := structured[SystemInfoOutput](t, res)
	if o.OS == "" || o.Kernel == "" || o.Arch == "" || o.Hostname == "" || o.CurrentUser == "" {
		t.Errorf("identity fields missing: %+v", o)
	}
	if o.UptimeSeconds <= 0 || o.Uptime == "" || o.CPUCount < 1 || o.CPUModel == "" || o.Load1 < 0 {
		t.Errorf("uptime/cpu/load not sane: %+v", o)
	}
	if o.MemTotalBytes == 0 || o.MemAvailBytes > o.MemTotalBytes || o.MemUsedBytes+o.MemAvailBytes != o.MemTotalBytes {
		t.Errorf("memory not sane: %+v", o)
	}
	if len(o.Disks) == 0 {
		t.Fatalf("no disk found; warnings %v", o.Warnings)
	}
	for _, d := range o.Disks {
		if d.Error == "" && (d.SizeBytes == 0 || d.UsedBytes > d.SizeBytes || d.UsedPercent < 0 || d.UsedPercent > 100 || d.Mount == "") {
			t.Errorf("disk not sane: %+v", d)
		}
		if d.FSType == "proc" || d.FSType == "sysfs" || d.FSType == "cgroup" || d.FSType == "tmpfs" {
			t.Errorf("pseudo filesystem listed: %+v", d)
		}
	}
	text := resultText(res)
	for _, want := range []string{"OS: ", "Kernel: ", "Memory: ", "Disks:", o.Disks[0].Mount} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

// Every tool of this family states a title and all four hints, and the
// read-only ones say so.
func TestSystemToolAnnotations(t *testing.T) {
	t.Parallel()
	names := []string{"list_processes", "kill_process", "tail_file", "system_info", "network_info", "service_action", "get_environment"}
	listed := listTools(t, names)
	readOnly := map[string]bool{"list_processes": true, "tail_file": true, "system_info": true, "network_info": true, "get_environment": true}
	seen := 0
	for _, tool := range listed {
		a := tool.Annotations
		if a == nil || a.Title == "" || a.DestructiveHint == nil || a.OpenWorldHint == nil || tool.Description == "" {
			t.Errorf("%s: incomplete annotations %+v", tool.Name, a)
			continue
		}
		seen++
		if a.ReadOnlyHint != readOnly[tool.Name] || *a.DestructiveHint == readOnly[tool.Name] {
			t.Errorf("%s: readOnly=%v destructive=%v", tool.Name, a.ReadOnlyHint, *a.DestructiveHint)
		}
	}
	if seen != len(names) {
		t.Errorf("saw %d of %d tools", seen, len(names))
	}
}

// system_info's os is the os-release name, or says there is none.
func TestSystemInfoOSName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "os-release")
	if err := os.WriteFile(p, []byte("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := osName([]string{filepath.Join(dir, "absent"), p}); got != "Debian GNU/Linux 12 (bookworm)" {
		t.Errorf("got %q", got)
	}
	if got := osName([]string{filepath.Join(dir, "absent")}); got != "Linux (no /etc/os-release)" {
		t.Errorf("without os-release: got %q", got)
	}
}
