package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/jobs"
)

// defaultReadWait caps read_job_output's wait when commands never yield
// (SERVAGENT_COMMAND_YIELD=0): still below the ~60 s of client call caps.
const defaultReadWait = 40 * time.Second

// Owner is the credential a call runs as (the token's UserID, the same
// owner as sessions); jobs are visible only to it.
func Owner(req *mcp.CallToolRequest) string {
	if req != nil && req.Extra != nil && req.Extra.TokenInfo != nil {
		return req.Extra.TokenInfo.UserID
	}
	return ""
}

// commandDisplay is a command as the audit line shows it: its program name
// and length, never its arguments (they may hold secrets).
func commandDisplay(cmd string) string {
	return fmt.Sprintf("%s…(%d chars)", ProgramName(cmd), len(cmd))
}

// executeJob runs execute_command as a job: it waits until the command
// ends, the yield, or the call's end (which kills the command); a command
// still running at the yield (or at once, with background) is handed to
// the caller's credential and outlives the call and its session.
func (e *Env) executeJob(ctx context.Context, req *mcp.CallToolRequest, in ExecInput, dir string, timeout, yield time.Duration) (*mcp.CallToolResult, ExecOutput, error) {
	var stdout, stderr *HeadTail
	spec := jobs.Spec{
		Script: in.Command, Display: commandDisplay(in.Command), Dir: dir, Env: e.childEnv(in.Env), Timeout: timeout,
		PTY: in.PTY, Cols: in.Cols, Rows: in.Rows, Stdin: in.Stdin,
		OpenStdin: in.PTY || in.Background, Attached: !in.Background,
	}
	if !in.PTY && !in.Background {
		// Ended within the call: the result is exactly execute_command's
		// usual one, each stream capped on its own.
		stdout, stderr = NewHeadTail(e.MaxOutputSize), NewHeadTail(e.MaxOutputSize)
		spec.TeeStdout, spec.TeeStderr = stdout, stderr
	}
	j, err := e.Jobs.Start(Owner(req), spec)
	if err != nil {
		return nil, ExecOutput{}, fmt.Errorf("could not start the command: %w", err)
	}
	base := ExecOutput{WorkDir: dir, TimeoutSeconds: int(timeout / time.Second), JobID: j.ID}
	if !in.Background {
		var yielded <-chan time.Time
		if yield > 0 {
			t := time.NewTimer(yield)
			defer t.Stop()
			yielded = t.C
		}
		stopProgress := e.reportProgress(ctx, req, "command running")
		cancelled := false
		select {
		case <-j.Done():
		case <-yielded:
		case <-ctx.Done():
			cancelled = true
			j.Kill(0)
		}
		stopProgress()
		if !j.Running() || !j.Detach() {
			<-j.Done()
			e.Jobs.Forget(j)
			out := finishedOutput(j, base, stdout, stderr)
			out.Cancelled = cancelled
			return execText(out), out, nil
		}
	}
	st := j.Read(context.Background(), jobs.ReadOptions{})
	out := base
	out.Running, out.ExitCode = true, -1
	out.Stdout, out.Stderr, out.NextOffset = st.Stdout, st.Stderr, st.NextOffset
	out.DurationMs, out.WaitingForInput = st.Duration.Milliseconds(), st.WaitingForInput
	return execText(out), out, nil
}

// finishedOutput is execute_command's result for a job that ended within
// the call (it gets no job id: it is forgotten).
func finishedOutput(j *jobs.Job, base ExecOutput, stdout, stderr *HeadTail) ExecOutput {
	st := j.Read(context.Background(), jobs.ReadOptions{})
	out := base
	out.JobID = ""
	out.ExitCode, out.Signal, out.TimedOut = *st.ExitCode, st.Signal, st.TimedOut
	out.DurationMs = st.Duration.Milliseconds()
	if stdout != nil {
		out.Stdout, out.Stderr = stdout.String(), stderr.String()
		out.StdoutOmitted, out.StderrOmitted = stdout.Omitted(), stderr.Omitted()
	} else {
		out.Stdout, out.Stderr = st.Stdout, st.Stderr
		out.StdoutOmitted = st.DroppedBytes
	}
	return out
}

// jobError turns a manager error into one that says what to do next.
func (e *Env) job(req *mcp.CallToolRequest, id string) (*jobs.Job, error) {
	if strings.TrimSpace(id) == "" {
		return nil, errors.New("job_id is empty: pass the job_id execute_command returned (list_jobs shows them)")
	}
	return e.Jobs.Get(Owner(req), id)
}

// ReadJobInput are the arguments of read_job_output.
type ReadJobInput struct {
	JobID       string `json:"job_id" jsonschema:"the job_id execute_command returned"`
	WaitSeconds int    `json:"wait_seconds,omitempty" jsonschema:"wait up to this many seconds for new output or the end (returns as soon as output arrives; capped at the server's yield, 40 s by default); 0 returns at once"`
	Since       *int64 `json:"since,omitempty" jsonschema:"byte offset to read from (a next_offset from an earlier read); default: after the last read"`
	Plain       bool   `json:"plain,omitempty" jsonschema:"remove terminal escape sequences (colours, cursor moves) from the output"`
}

// JobOutput is what read_job_output returns.
type JobOutput struct {
	JobID           string `json:"job_id"`
	Stdout          string `json:"stdout" jsonschema:"output since the last read; a PTY job's terminal output is all here"`
	Stderr          string `json:"stderr"`
	Running         bool   `json:"running"`
	ExitCode        *int   `json:"exit_code,omitempty" jsonschema:"exit status once ended; -1 when killed by a signal"`
	Signal          string `json:"signal,omitempty"`
	TimedOut        bool   `json:"timed_out,omitempty" jsonschema:"the command ran into its timeout and was killed"`
	DurationMs      int64  `json:"duration_ms"`
	NextOffset      int64  `json:"next_offset" jsonschema:"byte offset after this output: pass it as since to read again from here"`
	DroppedBytes    int64  `json:"dropped_bytes,omitempty" jsonschema:"bytes of output left out because the job's buffer (SERVAGENT_MAX_OUTPUT_SIZE, head and tail kept) was full"`
	WaitingForInput bool   `json:"waiting_for_input,omitempty" jsonschema:"the PTY job is blocked reading its terminal (a prompt): answer with write_job_input"`
}

var readJobOutputTool = define(Tool{
	Name:  "read_job_output",
	Title: "Read job output",
	Description: "Read what a job (a command execute_command returned with running: true, or started with background: true) printed since the last read, " +
		"and whether it still runs (exit_code and signal once it ended). Pass wait_seconds (e.g. 30) to wait for new output or the end: " +
		"it returns as soon as output arrives, so there is no need to poll in a loop. waiting_for_input: the program waits at a prompt on its terminal; " +
		"answer with write_job_input. plain: true removes terminal escape sequences.",
	Hints: Hints{ReadOnly: true},
	Audit: []string{"job_id", "wait_seconds", "since", "plain"},
	With:  executeCommandTool.Name,
}, (*Env).readJobOutput)

func (e *Env) readJobOutput(ctx context.Context, req *mcp.CallToolRequest, in ReadJobInput) (*mcp.CallToolResult, JobOutput, error) {
	j, err := e.job(req, in.JobID)
	if err != nil {
		return nil, JobOutput{}, err
	}
	if in.WaitSeconds < 0 {
		return nil, JobOutput{}, errors.New("wait_seconds must be 0 or more")
	}
	if in.Since != nil && *in.Since < 0 {
		return nil, JobOutput{}, errors.New("since must be a byte offset (0 or more): a next_offset from an earlier read")
	}
	limit := e.CommandYield
	if limit <= 0 {
		limit = defaultReadWait
	}
	wait := min(time.Duration(in.WaitSeconds)*time.Second, limit)
	stop := func() {}
	if wait > 0 {
		stop = e.reportProgress(ctx, req, "waiting for job output")
	}
	st := j.Read(ctx, jobs.ReadOptions{Since: in.Since, Wait: wait, Plain: in.Plain})
	stop()
	out := jobOutput(j.ID, st)
	return jobText(out), out, nil
}

// jobOutput is what read_job_output and kill_job return for one read.
func jobOutput(id string, st jobs.Status) JobOutput {
	return JobOutput{
		JobID: id, Stdout: st.Stdout, Stderr: st.Stderr, Running: st.Running, ExitCode: st.ExitCode, Signal: st.Signal,
		TimedOut: st.TimedOut, DurationMs: st.Duration.Milliseconds(), NextOffset: st.NextOffset,
		DroppedBytes: st.DroppedBytes, WaitingForInput: st.WaitingForInput,
	}
}

func jobText(o JobOutput) *mcp.CallToolResult {
	var b strings.Builder
	switch {
	case o.Running && o.WaitingForInput:
		fmt.Fprintf(&b, "job %s: running, WAITING FOR INPUT on its terminal: answer with write_job_input (never type a password you were not given).\n", o.JobID)
	case o.Running:
		fmt.Fprintf(&b, "job %s: running; read again with wait_seconds to follow it.\n", o.JobID)
	default:
		fmt.Fprintf(&b, "job %s: ended, exit_code: %d", o.JobID, *o.ExitCode)
		if o.Signal != "" {
			fmt.Fprintf(&b, " (killed by %s)", o.Signal)
		}
		if o.TimedOut {
			b.WriteString(", timed out")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "duration_ms: %d, next_offset: %d", o.DurationMs, o.NextOffset)
	if o.DroppedBytes > 0 {
		fmt.Fprintf(&b, ", dropped_bytes: %d", o.DroppedBytes)
	}
	b.WriteString("\n")
	for _, s := range []struct{ name, text string }{{"stdout", o.Stdout}, {"stderr", o.Stderr}} {
		if s.text != "" {
			b.WriteString("--- " + s.name + " ---\n" + s.text)
			if !strings.HasSuffix(s.text, "\n") {
				b.WriteString("\n")
			}
		}
	}
	if o.Stdout == "" && o.Stderr == "" {
		b.WriteString("(no new output)\n")
	}
	return textResult("%s", b.String())
}

// WriteJobInput are the arguments of write_job_input.
type WriteJobInput struct {
	JobID string   `json:"job_id"`
	Text  string   `json:"text,omitempty" jsonschema:"text to type; add keys [\"enter\"] to submit a line"`
	Keys  []string `json:"keys,omitempty" jsonschema:"named keys sent after text, in order: enter, tab, esc, backspace, up, down, left, right, ctrl-c, ctrl-d, ctrl-z, ctrl-\\"`
}

// WriteJobOutput is what write_job_input returns.
type WriteJobOutput struct {
	JobID        string `json:"job_id"`
	BytesWritten int    `json:"bytes_written"`
	Running      bool   `json:"running"`
}

var writeJobInputTool = define(Tool{
	Name:  "write_job_input",
	Title: "Write job input",
	Description: "Type text and named keys into a running job: its terminal (pty: true) or its stdin. " +
		"Submit a line with keys [\"enter\"]; keys also covers tab, esc, backspace, arrows, ctrl-c (interrupt), ctrl-d (end of input), ctrl-z, ctrl-\\. " +
		"Then read_job_output with wait_seconds to see the answer. Never type a password or secret you were not given.",
	Hints: Hints{Destructive: true, OpenWorld: true},
	Audit: []string{"job_id", "keys"},
	With:  executeCommandTool.Name,
}, (*Env).writeJobInput)

func (e *Env) writeJobInput(ctx context.Context, req *mcp.CallToolRequest, in WriteJobInput) (*mcp.CallToolResult, WriteJobOutput, error) {
	j, err := e.job(req, in.JobID)
	if err != nil {
		return nil, WriteJobOutput{}, err
	}
	if in.Text == "" && len(in.Keys) == 0 {
		return nil, WriteJobOutput{}, errors.New("nothing to write: pass text, keys, or both")
	}
	n, err := j.Input(in.Text, in.Keys)
	if errors.Is(err, jobs.ErrEnded) {
		return nil, WriteJobOutput{}, fmt.Errorf("job %s has ended and takes no input: read_job_output shows how it ended", j.ID)
	}
	if err != nil {
		return nil, WriteJobOutput{}, err
	}
	out := WriteJobOutput{JobID: j.ID, BytesWritten: n, Running: j.Running()}
	return textResult("wrote %d bytes to job %s; read_job_output with wait_seconds shows the answer.", n, j.ID), out, nil
}

// KillJobInput are the arguments of kill_job.
type KillJobInput struct {
	JobID  string `json:"job_id"`
	Signal string `json:"signal,omitempty" jsonschema:"first signal (TERM, INT, HUP, QUIT, KILL, USR1, USR2; default TERM); KILL follows after a grace period"`
}

var killJobTool = define(Tool{
	Name:  "kill_job",
	Title: "Kill job",
	Description: "Stop a job and everything it started (its process group, or its cgroup where servagent has one): " +
		"the signal (default TERM), then KILL after a grace period. Returns how it ended.",
	Hints: Hints{Destructive: true, Idempotent: true},
	Audit: []string{"job_id", "signal"},
	With:  executeCommandTool.Name,
}, (*Env).killJob)

func (e *Env) killJob(ctx context.Context, req *mcp.CallToolRequest, in KillJobInput) (*mcp.CallToolResult, JobOutput, error) {
	j, err := e.job(req, in.JobID)
	if err != nil {
		return nil, JobOutput{}, err
	}
	sig := syscall.SIGTERM
	if in.Signal != "" {
		s, _, err := parseSignal(in.Signal)
		if err != nil {
			return nil, JobOutput{}, err
		}
		if s == syscall.SIGSTOP || s == syscall.SIGCONT || s == syscall.SIGTSTP {
			return nil, JobOutput{}, fmt.Errorf("kill_job ends a job; %s would only pause or resume it: use TERM, INT, HUP, QUIT or KILL", in.Signal)
		}
		sig = s
	}
	j.Kill(sig)
	st := j.Read(ctx, jobs.ReadOptions{})
	// Kill waits for the end, so the job no longer waits for input.
	out := jobOutput(j.ID, st)
	return jobText(out), out, nil
}

// ListJobsInput takes no arguments.
type ListJobsInput struct{}

// JobInfo is one row of list_jobs.
type JobInfo struct {
	JobID       string `json:"job_id"`
	Command     string `json:"command" jsonschema:"the program name and length of the command line, as the audit log shows it"`
	PTY         bool   `json:"pty"`
	Running     bool   `json:"running"`
	ExitCode    *int   `json:"exit_code,omitempty"`
	Signal      string `json:"signal,omitempty"`
	StartedAt   string `json:"started_at" jsonschema:"RFC 3339 start time"`
	OutputBytes int64  `json:"output_bytes"`
}

// ListJobsOutput is what list_jobs returns.
type ListJobsOutput struct {
	Jobs []JobInfo `json:"jobs"`
}

var listJobsTool = define(Tool{
	Name:  "list_jobs",
	Title: "List jobs",
	Description: "List the jobs of this credential (running, and ended within the retention period): job_id, command, pty, running, exit code, start time, output size. " +
		"Jobs outlive the session that started them.",
	Hints: Hints{ReadOnly: true, Idempotent: true},
	With:  executeCommandTool.Name,
}, (*Env).listJobs)

func (e *Env) listJobs(ctx context.Context, req *mcp.CallToolRequest, in ListJobsInput) (*mcp.CallToolResult, ListJobsOutput, error) {
	out := ListJobsOutput{Jobs: []JobInfo{}}
	var b strings.Builder
	for _, j := range e.Jobs.List(Owner(req)) {
		out.Jobs = append(out.Jobs, JobInfo{JobID: j.ID, Command: j.Command, PTY: j.PTY, Running: j.Running, ExitCode: j.ExitCode,
			Signal: j.Signal, StartedAt: j.Started.UTC().Format(time.RFC3339), OutputBytes: j.OutputSize})
		state := "running"
		if !j.Running {
			state = fmt.Sprintf("exit %d", *j.ExitCode)
		}
		fmt.Fprintf(&b, "%s  %-8s pty=%v  started %s  %d bytes  %s\n", j.ID, state, j.PTY, j.Started.UTC().Format(time.RFC3339), j.OutputSize, j.Command)
	}
	if len(out.Jobs) == 0 {
		b.WriteString("no jobs\n")
	}
	return textResult("%s", b.String()), out, nil
}
