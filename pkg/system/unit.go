package system

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
)

// UnitConfig are the inputs of the generated systemd unit.
type UnitConfig struct {
	// FullAccess drops every option that makes sudo fail inside the service.
	FullAccess bool
	// BindPrivileged grants CAP_NET_BIND_SERVICE (port 443 or any port < 1024).
	BindPrivileged bool
	// ReadWritePaths are extra paths from SERVAGENT_READ_WRITE_PATHS.
	ReadWritePaths []string
}

// ValidateReadWritePath rejects what would break the unit file: systemd splits
// ReadWritePaths= on whitespace, expands % specifiers, and ends a line at a
// bare carriage return — any control character could inject unit keys (the
// value comes from .env, which the service user can edit).
func ValidateReadWritePath(p string) error {
	if !filepath.IsAbs(p) || strings.ContainsAny(p, " \t\n\"'%\\") || strings.IndexFunc(p, unicode.IsControl) >= 0 {
		return fmt.Errorf("invalid SERVAGENT_READ_WRITE_PATHS entry %q: expected an absolute path without spaces, quotes or %%", p)
	}
	return nil
}

// RenderUnit returns the servagent.service text.
func RenderUnit(c UnitConfig) (string, error) {
	for _, p := range c.ReadWritePaths {
		if err := ValidateReadWritePath(p); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	var w unitWriter = func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# %s: rewritten by every `servagent install`, `servagent tls setup`.", Marker)
	w("# Put local changes in a drop-in (systemctl edit servagent), which install keeps.")
	w("[Unit]")
	w("Description=servagent MCP server")
	w("Documentation=https://github.com/servagent/servagent")
	w("Wants=network-online.target")
	w("After=network-online.target")
	w("")
	w("[Service]")
	w("Type=simple")
	w("User=%s", ServiceUser)
	w("Group=%s", ServiceUser)
	w("WorkingDirectory=%s", InstallDir)
	w("ExecStart=%s serve --env-file %s", BinPath, EnvFile)
	w("Restart=on-failure")
	w("RestartSec=2s")
	// A cgroup subtree of its own: servagent moves itself into <unit>/servagent
	// and runs each command in a sibling cgroup, so `setsid` and double-forked
	// daemons end with their command (cgroup.kill).
	w("Delegate=yes")
	if c.FullAccess {
		fullAccessSection(w, c)
	} else {
		hardenedSection(w, c)
	}
	w("")
	w("[Install]")
	w("WantedBy=multi-user.target")
	return b.String(), nil
}

// unitWriter writes one line of the unit file.
type unitWriter func(format string, args ...any)

// fullAccessSection writes the [Service] options of a --full-access unit.
func fullAccessSection(w unitWriter, c UnitConfig) {
	// Everything systemd implements with seccomp or a capability bounding set
	// sets no_new_privs (or removes setuid/setgid) for a non-root User=, and
	// sudo then refuses to run; the mount-namespace options would also apply
	// to commands run under sudo (root could not write /usr, /etc or /home).
	// So the only isolation left is a private /tmp.
	w("# --full-access: the servagent user may sudo; no sandbox that would stop it.")
	w("PrivateTmp=true")
	if c.BindPrivileged {
		w("AmbientCapabilities=CAP_NET_BIND_SERVICE")
	}
}

// hardenedSection writes the sandbox options of a unit without --full-access.
func hardenedSection(w unitWriter, c UnitConfig) {
	w("# Hardened without taking away what plain Linux permissions grant the")
	w("# servagent user (group write on a web root, files it owns under /srv):")
	w("# ProtectSystem=full, not strict. For a tighter box see `servagent install --help`.")
	w("NoNewPrivileges=true")
	if c.BindPrivileged {
		w("CapabilityBoundingSet=CAP_NET_BIND_SERVICE")
		w("AmbientCapabilities=CAP_NET_BIND_SERVICE")
	} else {
		w("CapabilityBoundingSet=")
	}
	w("ProtectSystem=full")
	w("ProtectHome=read-only")
	w("PrivateTmp=true")
	w("PrivateDevices=true")
	rw := []string{StateDir}
	for _, p := range c.ReadWritePaths {
		rw = append(rw, "-"+p) // "-": a missing path must not stop the service
	}
	w("ReadWritePaths=%s", strings.Join(rw, " "))
	w("ProtectKernelTunables=true")
	w("ProtectKernelModules=true")
	w("ProtectKernelLogs=true")
	// No ProtectControlGroups=: it mounts /sys/fs/cgroup read-only, which
	// would take the delegated subtree (Delegate=yes) away again.
	w("ProtectClock=true")
	w("ProtectHostname=true")
	w("RestrictNamespaces=true")
	w("RestrictRealtime=true")
	w("RestrictSUIDSGID=true")
	w("LockPersonality=true")
	// AF_NETLINK: `ip addr` and `ss` are everyday diagnostics of the commands it runs.
	w("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK")
	w("SystemCallArchitectures=native")
	// Not ~@privileged/@resources and no MemoryDenyWriteExecute: the filter is
	// inherited by every command the AI runs (chown to a shared group, nice,
	// node/java JITs), which ordinary permissions allow.
	w("SystemCallFilter=@system-service")
	w("SystemCallErrorNumber=EPERM")
}

// StrictDropIn is the documented override for operators who want
// ProtectSystem=strict: only the state dir and the listed paths stay writable.
const StrictDropIn = `# /etc/systemd/system/servagent.service.d/strict.conf
[Service]
ProtectSystem=strict
ProtectHome=true
ReadWritePaths=/opt/servagent/state /srv/www
`
