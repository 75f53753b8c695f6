// Package instructions builds the text servagent sends to clients at
// initialize: a short block of facts about this host gathered once at startup
// with bounded probes, the operator's skills, and the rules of conduct.
package instructions

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strings"
	"time"

	"github.com/servagent/servagent/pkg/osrelease"
	"github.com/servagent/servagent/pkg/skills"
	"github.com/servagent/servagent/pkg/systemd"
)

// Host holds the facts of the context block.
type Host struct {
	OS             string
	Kernel         string
	Arch           string
	Hostname       string
	User           string
	UID            int
	Sudo           string // "root", "passwordless", "password required", "not installed"
	PackageManager string
	InitSystem     string
	WorkDir        string
}

// Probe gathers Host facts. Each external probe is bounded by a short timeout
// so a hung sudo or a slow disk cannot delay startup.
func Probe(ctx context.Context, workDir string) Host {
	h := Host{Arch: runtime.GOARCH, WorkDir: workDir, UID: os.Getuid()}
	h.OS = osName(osrelease.Files())
	h.Kernel = kernelRelease()
	h.Hostname, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		h.User = u.Username
	} else {
		h.User = fmt.Sprintf("uid %d", h.UID)
	}
	h.Sudo = sudoState(ctx, h.UID)
	h.PackageManager = packageManager()
	h.InitSystem = initSystem()
	return h
}

// osName is the OS line of the context block: the os-release name, else
// the GOOS.
func osName(files []string) string {
	if name, ok := osrelease.PrettyName(files); ok {
		return name
	}
	return runtime.GOOS
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return "Linux " + strings.TrimSpace(string(b))
}

func sudoState(ctx context.Context, uid int) string {
	if uid == 0 {
		return "running as root (no sudo needed)"
	}
	path, err := exec.LookPath("sudo")
	if err != nil {
		return "sudo not installed"
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-n", "true")
	cmd.Stdin = nil
	if cmd.Run() == nil {
		return "passwordless sudo works (use sudo -n)"
	}
	return "sudo needs a password: privileged actions need the user"
}

func packageManager() string {
	for _, pm := range []string{"apt-get", "dnf", "yum", "zypper", "pacman", "apk"} {
		if _, err := exec.LookPath(pm); err == nil {
			return pm
		}
	}
	return "unknown"
}

func initSystem() string {
	if systemd.Host().Booted() == nil {
		return "systemd"
	}
	if b, err := os.ReadFile("/proc/1/comm"); err == nil {
		return strings.TrimSpace(string(b)) + " (not systemd: service_action will not work)"
	}
	return "unknown"
}

// Rules are the conduct rules sent to every client.
const Rules = `## Rules
- Read the exit code and stderr of a failed command before doing anything else; fix the cause instead of retrying blindly.
- Never repeat the same failing call more than twice. Change approach, or stop and ask the user.
- "Permission denied" and password prompts need the user: explain what is needed instead of looping.
- Confirm with the user before destructive or irreversible actions (deleting data, stopping services, rebooting, changing firewall or SSH settings).
- Outputs are capped: when the middle of an output is cut, re-run with narrower output (grep, head, tail, sed -n) rather than the same command.
- Use write_file / edit_file to create and change files, not shell heredocs or echo redirections; after a failed edit, re-read the file.
- After starting or restarting a service, check that it is active and read its recent logs.
- A command still running after about 40 s comes back with running: true and a job_id; it keeps running. Follow it with read_job_output and wait_seconds (about 30; it returns as soon as output arrives) until running is false; do not re-run it. Start long work (upgrades, builds) with background: true if you want to do something else meanwhile.
- Run programs that prompt or want a terminal (sudo, read -p, REPLs, installers) with pty: true; when read_job_output says waiting_for_input, answer with write_job_input (keys ["enter"] submits). Never type a password or secret the user did not give you for that purpose: ask instead.`

// Block renders the context block.
func (h Host) Block() string {
	var b strings.Builder
	b.WriteString("You are operating a Linux server through servagent.\n\n## This server\n")
	fmt.Fprintf(&b, "- OS: %s; kernel %s; arch %s\n", h.OS, h.Kernel, h.Arch)
	fmt.Fprintf(&b, "- Hostname: %s\n", h.Hostname)
	fmt.Fprintf(&b, "- Commands run as: %s (uid %d); %s\n", h.User, h.UID, h.Sudo)
	fmt.Fprintf(&b, "- Package manager: %s; init system: %s\n", h.PackageManager, h.InitSystem)
	fmt.Fprintf(&b, "- Working directory (base of relative paths): %s\n", h.WorkDir)
	return b.String()
}

// Builder produces the full instructions; skills are re-read on every call so
// an edited SKILL.md shows up in the next session without a restart.
type Builder struct {
	Host      Host
	SkillsDir string
	Logger    *slog.Logger
}

// Build returns context block + skills + rules.
func (b *Builder) Build() string {
	parts := []string{b.Host.Block()}
	if s := skills.Render(b.SkillsDir, b.Logger); s != "" {
		parts = append(parts, s)
	}
	parts = append(parts, Rules)
	return strings.Join(parts, "\n") + "\n"
}
