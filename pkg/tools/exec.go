package tools

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/runner"
)

// ExecInput are the arguments of execute_command.
type ExecInput struct {
	Command string            `json:"command" jsonschema:"the shell command line, run with bash -c (sh -c when bash is missing)"`
	WorkDir string            `json:"work_dir,omitempty" jsonschema:"working directory (default: the server's working directory)"`
	Timeout int               `json:"timeout,omitempty" jsonschema:"timeout in seconds (default: the server's SERVAGENT_COMMAND_TIMEOUT)"`
	Env     map[string]string `json:"env,omitempty" jsonschema:"extra environment variables"`
	Stdin   string            `json:"stdin,omitempty" jsonschema:"text fed to the command's standard input (default: empty)"`
}

// ExecOutput is the result of execute_command.
type ExecOutput struct {
	ExitCode       int    `json:"exit_code" jsonschema:"exit status; -1 when the command was killed by a signal"`
	Stdout         string `json:"stdout"`
	Stderr         string `json:"stderr"`
	TimedOut       bool   `json:"timed_out"`
	Cancelled      bool   `json:"cancelled,omitempty"`
	Signal         string `json:"signal,omitempty"`
	DurationMs     int64  `json:"duration_ms"`
	StdoutOmitted  int64  `json:"stdout_omitted_bytes,omitempty"`
	StderrOmitted  int64  `json:"stderr_omitted_bytes,omitempty"`
	WorkDir        string `json:"work_dir"`
	TimeoutSeconds int    `json:"timeout_seconds"`
}

var executeCommandTool = define(Tool{
	Name:  "execute_command",
	Title: "Execute shell command",
	Description: "Run a shell command on the server and return exit_code, stdout, stderr and duration. " +
		"A non-zero exit code is a normal result: read stderr before retrying, and do not repeat the same failing command more than twice. " +
		"Each stream is capped; when output is cut, the middle is left out and a marker says how much: re-run with narrower output (grep, head, tail). " +
		"Long commands are killed at the timeout with what they printed so far. " +
		"To create or change files use write_file or edit_file, not shell heredocs or echo redirections.",
	Hints:   Hints{Destructive: true, OpenWorld: true},
	Audit:   []string{"work_dir", "timeout"},
	Program: "command",
}, (*Env).executeCommand)

func (e *Env) executeCommand(ctx context.Context, req *mcp.CallToolRequest, in ExecInput) (*mcp.CallToolResult, ExecOutput, error) {
	if strings.TrimSpace(in.Command) == "" {
		return nil, ExecOutput{}, fmt.Errorf("command is empty: pass the shell command line to run in `command`")
	}
	dir := e.WorkDir
	if in.WorkDir != "" {
		d, err := e.resolve(in.WorkDir)
		if err != nil {
			return nil, ExecOutput{}, err
		}
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() {
			return nil, ExecOutput{}, fmt.Errorf("work_dir %s is not an existing directory: create it first or choose another", d)
		}
		dir = d
	}
	timeout := e.CommandTimeout
	if in.Timeout < 0 {
		return nil, ExecOutput{}, fmt.Errorf("timeout must be a positive number of seconds")
	}
	if in.Timeout > 0 {
		timeout = time.Duration(in.Timeout) * time.Second
	}
	for k := range in.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, ExecOutput{}, fmt.Errorf("invalid environment variable name %q", k)
		}
	}
	stdout, stderr := NewHeadTail(e.MaxOutputSize), NewHeadTail(e.MaxOutputSize)
	c := runner.Cmd{
		Script:  in.Command,
		Dir:     dir,
		Env:     e.childEnv(in.Env),
		Stdout:  stdout,
		Stderr:  stderr,
		Timeout: timeout,
	}
	if in.Stdin != "" {
		c.Stdin = strings.NewReader(in.Stdin)
	}
	stopProgress := e.reportProgress(ctx, req, "command running")
	res, err := e.Runner.Run(ctx, c)
	stopProgress()
	if err != nil {
		return nil, ExecOutput{}, fmt.Errorf("could not start the command: %v", err)
	}
	out := ExecOutput{
		ExitCode:       res.ExitCode,
		Stdout:         stdout.String(),
		Stderr:         stderr.String(),
		TimedOut:       res.TimedOut,
		Cancelled:      res.Cancelled,
		Signal:         res.Signal,
		DurationMs:     res.Duration.Milliseconds(),
		StdoutOmitted:  stdout.Omitted(),
		StderrOmitted:  stderr.Omitted(),
		WorkDir:        dir,
		TimeoutSeconds: int(timeout / time.Second),
	}
	return execText(out), out, nil
}

func execText(o ExecOutput) *mcp.CallToolResult {
	var b strings.Builder
	switch {
	case o.TimedOut:
		fmt.Fprintf(&b, "TIMED OUT after %ds and was killed (output so far below); raise `timeout` or run it in the background with nohup.\n", o.TimeoutSeconds)
	case o.Cancelled:
		b.WriteString("CANCELLED by the client; the command was killed (output so far below).\n")
	}
	fmt.Fprintf(&b, "exit_code: %d", o.ExitCode)
	if o.Signal != "" {
		fmt.Fprintf(&b, " (killed by %s)", o.Signal)
	}
	fmt.Fprintf(&b, "\nduration_ms: %d\n", o.DurationMs)
	if o.Stdout != "" {
		b.WriteString("--- stdout ---\n" + o.Stdout)
		if !strings.HasSuffix(o.Stdout, "\n") {
			b.WriteString("\n")
		}
	}
	if o.Stderr != "" {
		b.WriteString("--- stderr ---\n" + o.Stderr)
		if !strings.HasSuffix(o.Stderr, "\n") {
			b.WriteString("\n")
		}
	}
	if o.Stdout == "" && o.Stderr == "" {
		b.WriteString("(no output)\n")
	}
	return textResult("%s", b.String())
}

// reportProgress sends notifications/progress every ProgressInterval while a
// call runs, when the client asked for progress. Clients that reset their
// request timeout on progress then keep waiting for long commands.
func (e *Env) reportProgress(ctx context.Context, req *mcp.CallToolRequest, what string) (stop func()) {
	if req == nil || req.Session == nil || req.Params == nil {
		return func() {}
	}
	token := req.Params.GetProgressToken()
	if token == nil {
		return func() {}
	}
	every := e.ProgressInterval
	if every <= 0 {
		every = 5 * time.Second
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		start := time.Now()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				secs := time.Since(start).Seconds()
				req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
					ProgressToken: token,
					Progress:      secs,
					Message:       fmt.Sprintf("%s for %.0fs", what, secs),
				})
			}
		}
	}()
	return func() { close(done); <-finished }
}
