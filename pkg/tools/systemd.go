package tools

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// Systemd is what service_action and tail_file need from the host's
// systemd: where its commands are, how to tell it runs, and who we are.
// Tests point it at fake scripts and a temp run directory.
type Systemd struct {
	Systemctl, Journalctl, Sudo string
	// RunDir exists iff systemd is PID 1 (the sd_booted(3) test).
	RunDir string
	Euid   func() int
	// SettleDelay is how long after a successful start the state is re-read.
	SettleDelay time.Duration
}

// HostSystemd is the real host's systemd.
func HostSystemd() Systemd {
	return Systemd{
		Systemctl: "systemctl", Journalctl: "journalctl", Sudo: "sudo",
		RunDir: "/run/systemd/system", Euid: os.Geteuid, SettleDelay: time.Second,
	}
}

// Booted says whether systemd manages this host.
func (s Systemd) Booted() error {
	if fi, err := os.Stat(s.RunDir); err == nil && fi.IsDir() {
		return nil
	}
	init := "another init system"
	if b, err := os.ReadFile("/proc/1/comm"); err == nil {
		init = strings.TrimSpace(string(b))
	}
	return fmt.Errorf("systemd is not running on this host (%s does not exist; PID 1 is %q), so there are no systemd units: manage services with execute_command and the host's own tool (service, rc-service, supervisorctl, or the process directly via list_processes/kill_process)", s.RunDir, init)
}

// unitNameRE is the systemd unit-name charset (see systemd.unit(5)).
var unitNameRE = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+$`)

// validateUnit checks a unit name before it goes anywhere near an argv: the
// reference pasted it into a shell string.
func validateUnit(field, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is empty: pass a systemd unit name such as nginx or nginx.service", field)
	case len(name) > 256:
		return fmt.Errorf("%s is %d characters long; systemd unit names are at most 256", field, len(name))
	case strings.HasPrefix(name, "-"):
		return fmt.Errorf("%s %q starts with '-', which would be read as an option: pass the bare unit name such as nginx", field, name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("%s %q starts with '.': pass a unit name such as nginx or nginx.service", field, name)
	case !unitNameRE.MatchString(name):
		return fmt.Errorf("%s %q is not a valid systemd unit name: only letters, digits and : _ . \\ @ - are allowed (no spaces, slashes, quotes or shell syntax); find the exact name with list_processes or `systemctl list-units` via execute_command", field, name)
	}
	return nil
}
