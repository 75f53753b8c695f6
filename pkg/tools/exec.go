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
	PTY     bool              `json:"pty,omitempty" jsonschema:"run under a pseudo-terminal (TERM=xterm-256color, job control, ctrl-c): for password prompts, read -p, REPLs (python3, psql) and programs that want a terminal; answer them with write_job_input"`
	// Background returns at once with a job id.
	Background bool `json:"background,omitempty" jsonschema:"return at once with a job_id instead of waiting; follow the command with read_job_output"`
	YieldAfter *int `json:"yield_after,omitempty" jsonschema:"seconds to wait before returning running: true and a job_id for a command still running (default: the server's SERVAGENT_COMMAND_YIELD, 40); the command goes on until it ends or its timeout. 0 waits until it ends"`
	Cols       int  `json:"cols,omitempty" jsonschema:"terminal width with pty: true (default 120)"`
	Rows       int  `json:"rows,omitempty" jsonschema:"terminal height with pty: true (default 40)"`
}

// ExecOutput is the result of execute_command.
type ExecOutput struct {
	ExitCode       int    `json:"exit_code" jsonschema:"exit status; -1 when the command was killed by a signal or still runs (running: true)"`
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
	// Set when the command still runs as a job (yielded or background).
	Running         bool   `json:"running,omitempty" jsonschema:"true: the command is still running as job job_id; read the rest with read_job_output"`
	JobID           string `json:"job_id,omitempty" jsonschema:"the job to pass to read_job_output, write_job_input and kill_job"`
	NextOffset      int64  `json:"next_offset,omitempty" jsonschema:"byte offset of the job's output after what is shown here"`
	WaitingForInput bool   `json:"waiting_for_input,omitempty" jsonschema:"the PTY job is blocked reading its terminal (a prompt): answer with write_job_input"`
}

// maxTimeoutSeconds bounds timeout and yield_after: seven days, as
// SERVAGENT_COMMAND_TIMEOUT (a larger number would overflow a duration).
const maxTimeoutSeconds = 7 * 24 * 3600

var executeCommandTool = define(Tool{
	Name:  "execute_command",
	Title: "Execute shell command",
	Description: "Run a shell command on the server and return exit_code, stdout, stderr and duration. " +
		"A non-zero exit code is a normal result: read stderr before retrying, and do not repeat the same failing command more than twice. " +
		"Each stream is capped; when output is cut, the middle is left out and a marker says how much: re-run with narrower output (grep, head, tail). " +
		"A command still running after yield_after seconds (default 40) returns running: true and a job_id with the output so far; it keeps running: " +
		"call read_job_output with wait_seconds to follow it (no need to poll quickly), kill_job to stop it. background: true returns the job_id at once. " +
		"pty: true gives the command a terminal, for prompts (sudo, read -p) and REPLs: read_job_output reports waiting_for_input, answer with write_job_input; never type a password you were not given. " +
		"Commands are killed at the timeout with what they printed so far. " +
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
	if in.Timeout < 0 || in.Timeout > maxTimeoutSeconds {
		return nil, ExecOutput{}, fmt.Errorf("timeout must be a number of seconds between 1 and %d (7 days), got %d", maxTimeoutSeconds, in.Timeout)
	}
	if in.Timeout > 0 {
		timeout = time.Duration(in.Timeout) * time.Second
	}
	yield := e.CommandYield
	if in.YieldAfter != nil {
		if *in.YieldAfter < 0 || *in.YieldAfter > maxTimeoutSeconds {
			return nil, ExecOutput{}, fmt.Errorf("yield_after must be a number of seconds between 0 (wait until the command ends) and %d, got %d", maxTimeoutSeconds, *in.YieldAfter)
		}
		yield = time.Duration(*in.YieldAfter) * time.Second
	}
	if !in.PTY && (in.Cols != 0 || in.Rows != 0) {
		return nil, ExecOutput{}, fmt.Errorf("cols and rows size a terminal: pass them with pty: true")
	}
	if in.Cols < 0 || in.Cols > 1000 || in.Rows < 0 || in.Rows > 1000 {
		return nil, ExecOutput{}, fmt.Errorf("cols and rows must be between 1 and 1000")
	}
	for k := range in.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, ExecOutput{}, fmt.Errorf("invalid environment variable name %q", k)
		}
	}
	if in.PTY || in.Background || yield > 0 {
		return e.executeJob(ctx, req, in, dir, timeout, yield)
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
		return nil, ExecOutput{}, fmt.Errorf("could not start the command: %w", err)
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
	case o.Running:
		fmt.Fprintf(&b, "STILL RUNNING as job %s (output so far below). Follow it with read_job_output {\"job_id\": %q, \"wait_seconds\": 30}; stop it with kill_job.\n", o.JobID, o.JobID)
		if o.WaitingForInput {
			b.WriteString("It is waiting for input on its terminal: answer with write_job_input (never type a password you were not given).\n")
		}
	case o.TimedOut:
		fmt.Fprintf(&b, "TIMED OUT after %ds and was killed (output so far below); raise `timeout` (a long command yields a job_id instead of blocking), or start it with background: true and follow it with read_job_output.\n", o.TimeoutSeconds)
	case o.Cancelled:
		b.WriteString("CANCELLED by the client; the command was killed (output so far below).\n")
	}
	if !o.Running {
		fmt.Fprintf(&b, "exit_code: %d", o.ExitCode)
		if o.Signal != "" {
			fmt.Fprintf(&b, " (killed by %s)", o.Signal)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "duration_ms: %d\n", o.DurationMs)
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
