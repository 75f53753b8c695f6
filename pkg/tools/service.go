package tools

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/servagent/servagent/pkg/runner"
	"github.com/servagent/servagent/pkg/systemd"
	"github.com/servagent/servagent/pkg/timeutil"
)

var serviceActions = []string{"status", "start", "stop", "restart", "reload", "enable", "disable", "is-active", "is-enabled"}

// mutating actions need root; they go through `sudo -n` when not root.
var mutatingActions = []string{"start", "stop", "restart", "reload", "enable", "disable"}

// ServiceActionInput are the arguments of service_action.
type ServiceActionInput struct {
	Service string `json:"service" jsonschema:"systemd unit name, e.g. nginx or nginx.service"`
	Action  string `json:"action" jsonschema:"status, start, stop, restart, reload, enable, disable, is-active or is-enabled"`
}

// ServiceActionOutput is the result of service_action.
type ServiceActionOutput struct {
	Service     string   `json:"service"`
	Action      string   `json:"action"`
	Command     []string `json:"command" jsonschema:"the argv that was run"`
	ExitCode    int      `json:"exit_code"`
	Output      string   `json:"output" jsonschema:"systemctl's stdout and stderr"`
	ActiveState string   `json:"active_state,omitempty" jsonschema:"after start, restart, stop and reload: the unit's ActiveState (active, failed, inactive, ...)"`
	SubState    string   `json:"sub_state,omitempty"`
	Result      string   `json:"result,omitempty" jsonschema:"the unit's Result (success, exit-code, signal, ...)"`
	UsedSudo    bool     `json:"used_sudo,omitempty"`
}

var serviceActionTool = define(Tool{
	Name:  "service_action",
	Title: "Manage a systemd service",
	Description: "Manage a systemd service: status, start, stop, restart, reload, enable, disable, is-active, is-enabled. " +
		"After start or restart it reports the unit's resulting state a second later; always verify a service after a restart, and if it is not active read its logs with tail_file journalctl_unit=<service>. " +
		"Prefer reload over restart when the service supports it (nginx, apache). Uses sudo -n for changes when servagent is not root.",
	Hints: Hints{Destructive: true},
	Audit: []string{"service", "action"},
}, (*Env).serviceAction)

func (e *Env) serviceAction(ctx context.Context, req *mcp.CallToolRequest, in ServiceActionInput) (*mcp.CallToolResult, ServiceActionOutput, error) {
	action := strings.ToLower(strings.TrimSpace(in.Action))
	if !slices.Contains(serviceActions, action) {
		return nil, ServiceActionOutput{}, fmt.Errorf("action %q is not supported: use one of %s", in.Action, strings.Join(serviceActions, ", "))
	}
	if err := validateUnit("service", in.Service); err != nil {
		return nil, ServiceActionOutput{}, err
	}
	if err := booted(e.Systemd); err != nil {
		return nil, ServiceActionOutput{}, err
	}
	// --no-ask-password: with no terminal, a polkit prompt would only hang.
	args := []string{"--no-ask-password"}
	if action == "status" {
		args = append(args, "--full")
	}
	// "--" ends option parsing, so the unit can never be taken for a flag.
	argv, err := e.Systemd.SystemctlArgv(append(args, action, "--", in.Service)...)
	if err != nil {
		return nil, ServiceActionOutput{}, err
	}
	usedSudo := false
	if slices.Contains(mutatingActions, action) {
		argv, usedSudo = e.Systemd.AsRoot(argv)
	}

	timeout := e.CommandTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	combined := NewHeadTail(outputLimit(e.MaxOutputSize))
	stop := e.reportProgress(ctx, req, "systemctl "+action+" "+in.Service)
	res, err := e.Runner.Run(ctx, runner.Cmd{KillWithParent: true, Argv: argv, Env: systemd.Environ(e.childEnv(nil)), Stdout: combined, Stderr: combined, Timeout: timeout})
	stop()
	if err != nil {
		return nil, ServiceActionOutput{}, fmt.Errorf("could not run systemctl: %w", err)
	}
	out := ServiceActionOutput{
		Service:  in.Service,
		Action:   action,
		Command:  argv,
		ExitCode: res.ExitCode,
		Output:   combined.String(),
		UsedSudo: usedSudo,
	}
	text := strings.TrimRight(out.Output, "\n")
	if res.TimedOut {
		return nil, out, fmt.Errorf("systemctl %s %s did not finish within %s and was killed; the job may still be running in systemd: check with service_action status, and read logs with tail_file journalctl_unit=%s. Output so far:\n%s", action, in.Service, timeout, in.Service, text)
	}
	if res.Cancelled {
		return nil, out, fmt.Errorf("cancelled by the client; systemctl %s %s was killed", action, in.Service)
	}
	if err := systemctlFailure(in.Service, action, text, res.ExitCode, usedSudo); err != nil {
		return nil, out, err
	}
	if action == "start" || action == "restart" || action == "stop" || action == "reload" {
		settle := action == "start" || action == "restart"
		u := e.unitState(ctx, in.Service, settle)
		out.ActiveState, out.SubState, out.Result = u.active, u.sub, u.result
		if out.ActiveState != "" {
			if text != "" {
				text += "\n"
			}
			text += fmt.Sprintf("%s is now %s (%s)", in.Service, out.ActiveState, out.SubState)
			if settle && u.broken() {
				return nil, out, fmt.Errorf("systemctl %s %s returned success but the unit is %s (%s, result %s) a moment later: it probably crashed on start. Read its logs with tail_file journalctl_unit=%s", action, in.Service, u.active, u.sub, u.result, in.Service)
			}
		}
	}
	if text == "" {
		text = fmt.Sprintf("systemctl %s %s: done (exit %d, no output)", action, in.Service, res.ExitCode)
	}
	return textResult("%s", text), out, nil
}

// systemctlFailure turns a non-zero systemctl exit into advice for the
// model; nil when the exit is an ordinary answer (status of a stopped unit
// is 3, is-active/is-enabled answer "no" with an exit code).
func systemctlFailure(unit, action, text string, exit int, usedSudo bool) error {
	if exit == 0 {
		return nil
	}
	switch {
	// status quotes log lines, which may say "not found" themselves.
	case action == "status" && exit == 4,
		action != "status" && (strings.Contains(text, "not found") || strings.Contains(text, "No such file")):
		return fmt.Errorf("unit %s not found (systemctl exit %d): list units with execute_command `systemctl list-units --type=service --all`. systemctl said:\n%s", unit, exit, text)
	case usedSudo && strings.Contains(text, "password is required"):
		return fmt.Errorf("sudo needs a password for systemctl, and servagent cannot type one: run servagent as root or allow `systemctl` with NOPASSWD in sudoers. sudo said:\n%s", text)
	case strings.Contains(text, "Access denied") || strings.Contains(text, "authentication required"):
		return fmt.Errorf("permission denied for systemctl %s: servagent is not root and sudo is unavailable; run servagent as root or allow systemctl via sudo NOPASSWD. systemctl said:\n%s", action, text)
	case slices.Contains(mutatingActions, action):
		return fmt.Errorf("systemctl %s %s failed (exit %d): read the logs with tail_file journalctl_unit=%s and check service_action status. systemctl said:\n%s", action, unit, exit, unit, text)
	}
	return nil
}

// unitState is what `systemctl show` says about a unit.
type unitState struct{ active, sub, result string }

func (u unitState) transitional() bool {
	return u.active == "activating" || u.active == "deactivating" || u.active == "reloading"
}

// broken: failed, or stopped without success. A oneshot unit that ran and
// exited is inactive with Result=success, which is fine.
func (u unitState) broken() bool {
	return u.active == "failed" || (u.active == "inactive" && u.result != "" && u.result != "success")
}

// unitState reads the unit's state. With settle it waits out transitional
// states, then checks again a moment later, because a Type=simple service
// that crashes on start still makes `restart` succeed.
func (e *Env) unitState(ctx context.Context, unit string, settle bool) unitState {
	read := func() unitState {
		var u unitState
		argv, err := e.Systemd.SystemctlArgv("show", "-p", "ActiveState", "-p", "SubState", "-p", "Result", "--", unit)
		if err != nil {
			return u
		}
		var buf bytes.Buffer
		res, err := e.Runner.Run(ctx, runner.Cmd{
			KillWithParent: true,
			Argv:           argv,
			Env:            systemd.Environ(e.childEnv(nil)),
			Stdout:         &buf, Stderr: io.Discard, Timeout: 10 * time.Second,
		})
		if err != nil || res.ExitCode != 0 {
			return u
		}
		for line := range strings.Lines(buf.String()) {
			k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
			switch k {
			case "ActiveState":
				u.active = v
			case "SubState":
				u.sub = v
			case "Result":
				u.result = v
			}
		}
		return u
	}
	u := read()
	if !settle {
		return u
	}
	deadline := time.Now().Add(10 * time.Second)
	for u.transitional() && time.Now().Before(deadline) {
		if !timeutil.Sleep(ctx, 250*time.Millisecond) {
			return u
		}
		u = read()
	}
	if u.active == "active" && timeutil.Sleep(ctx, e.settleDelay()) {
		u = read()
	}
	return u
}
