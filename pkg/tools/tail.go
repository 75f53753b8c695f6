package tools

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/servagent/servagent/pkg/runner"
)

const (
	tailDefaultLines   = 50
	tailMaxLines       = 10000
	followDefault      = 10
	followMax          = 60
	tailCommandTimeout = time.Minute
	// grepMaxLine bounds the memory a line without newline can take while
	// grep waits for its end; longer lines are matched in pieces.
	grepMaxLine = 1 << 20
)

// TailFileInput are the arguments of tail_file.
type TailFileInput struct {
	Path           string `json:"path,omitempty" jsonschema:"log file to read (absolute, or relative to the working directory); give exactly one of path and journalctl_unit"`
	JournalctlUnit string `json:"journalctl_unit,omitempty" jsonschema:"systemd unit whose journal to read, e.g. nginx; give exactly one of path and journalctl_unit"`
	Lines          int    `json:"lines,omitempty" jsonschema:"how many lines from the end (default 50, max 10000)"`
	Follow         bool   `json:"follow,omitempty" jsonschema:"keep reading new lines for follow_timeout seconds, then return them"`
	FollowTimeout  int    `json:"follow_timeout,omitempty" jsonschema:"follow window in seconds (default 10; values above 60 are clamped to 60)"`
	Grep           string `json:"grep,omitempty" jsonschema:"keep only lines containing this case-insensitive plain substring (not a regex); applied to the last N lines and to followed lines"`
}

// TailFileOutput is the result of tail_file.
type TailFileOutput struct {
	Source        string `json:"source" jsonschema:"the file path, or journalctl --unit=<unit>"`
	Output        string `json:"output"`
	Lines         int    `json:"lines" jsonschema:"number of lines returned (after grep)"`
	Followed      bool   `json:"followed,omitempty"`
	FollowSeconds int    `json:"follow_seconds,omitempty"`
	Grep          string `json:"grep,omitempty"`
	OmittedBytes  int64  `json:"omitted_bytes,omitempty" jsonschema:"bytes cut from the middle of output to respect the output cap"`
	Stderr        string `json:"stderr,omitempty"`
	Notes         string `json:"notes,omitempty"`
}

var tailFileTool = define(Tool{
	Name:  "tail_file",
	Title: "Tail a log file or journal",
	Description: "Read the last lines of a log file (path) or of a systemd unit's journal (journalctl_unit) — give exactly one. " +
		"grep keeps only lines containing a case-insensitive plain substring (it filters the last `lines` lines; raise lines to search further back). " +
		"follow=true waits follow_timeout seconds (default 10, max 60) collecting new lines, e.g. while you reproduce a request, then returns them. " +
		"Use this instead of execute_command with tail or journalctl.",
	Hints: Hints{ReadOnly: true},
	Audit: []string{"path", "journalctl_unit", "lines", "follow"},
}, (*Env).tailFile)

func (e *Env) tailFile(ctx context.Context, req *mcp.CallToolRequest, in TailFileInput) (*mcp.CallToolResult, TailFileOutput, error) {
	lines, follow, notes, err := tailArgs(in)
	if err != nil {
		return nil, TailFileOutput{}, err
	}
	out := TailFileOutput{Grep: in.Grep}
	var argv []string
	if strings.TrimSpace(in.Path) != "" {
		argv, out.Source, err = e.tailFileArgv(in.Path, lines, follow)
	} else {
		argv, out.Source, err = e.journalArgv(in.JournalctlUnit, lines, follow)
	}
	if err != nil {
		return nil, TailFileOutput{}, err
	}
	ht := NewHeadTail(outputLimit(e.MaxOutputSize))
	lw := &lineWriter{w: ht, grep: strings.ToLower(in.Grep)}
	stderr := NewHeadTail(16 << 10)
	timeout := tailCommandTimeout
	if e.CommandTimeout > 0 {
		timeout = e.CommandTimeout
	}
	what := "reading " + out.Source
	if follow > 0 {
		timeout = time.Duration(follow) * time.Second
		what = "following " + out.Source
	}
	stop := e.reportProgress(ctx, req, what)
	res, err := e.Runner.Run(ctx, runner.Cmd{KillWithParent: true, Argv: argv, Env: e.childEnv(nil), Stdout: lw, Stderr: stderr, Timeout: timeout})
	stop()
	lw.Flush()
	if err != nil {
		return nil, TailFileOutput{}, fmt.Errorf("could not run %s: %w", argv[0], err)
	}
	out.Output = ht.String()
	out.Lines = lw.Lines()
	out.OmittedBytes = ht.Omitted()
	out.Stderr = strings.TrimSpace(stderr.String())
	switch {
	case follow > 0 && res.TimedOut:
		out.Followed, out.FollowSeconds = true, follow
	case res.Cancelled:
		notes = append(notes, "cancelled by the client; returning what was read so far")
	case res.TimedOut:
		notes = append(notes, fmt.Sprintf("stopped after %s; output may be incomplete", timeout))
	case res.ExitCode != 0 && out.Output == "":
		msg := out.Stderr
		if msg == "" {
			msg = fmt.Sprintf("exit status %d", res.ExitCode)
		}
		return nil, out, fmt.Errorf("%s failed: %s", argv[0], msg)
	case follow > 0:
		notes = append(notes, "the reader exited before the follow window ended")
	}
	out.Notes = strings.Join(notes, "; ")
	return tailText(out), out, nil
}

// tailArgs validates the arguments and applies defaults and clamps; a
// clamp is reported in notes.
func tailArgs(in TailFileInput) (lines, follow int, notes []string, err error) {
	if (strings.TrimSpace(in.Path) != "") == (in.JournalctlUnit != "") {
		return 0, 0, nil, errors.New("give exactly one of path (a log file) and journalctl_unit (a systemd unit such as nginx)")
	}
	lines, note, err := clamped(in.Lines, tailDefaultLines, tailMaxLines, "lines", "positive", "")
	if err != nil {
		return 0, 0, nil, err
	}
	notes = appendNote(notes, note)
	if !in.Follow {
		return lines, 0, notes, nil
	}
	follow, note, err = clamped(in.FollowTimeout, followDefault, followMax, "follow_timeout", "a positive number of seconds", "s")
	if err != nil {
		return 0, 0, nil, err
	}
	notes = appendNote(notes, note)
	return lines, follow, notes, nil
}

// clamped gives a zero v its default def and cuts a v above limit to limit,
// with a note saying so; a negative v is an error saying what is wanted.
func clamped(v, def, limit int, name, want, unit string) (int, string, error) {
	switch {
	case v < 0:
		return 0, "", fmt.Errorf("%s must be %s (default %d, max %d)", name, want, def, limit)
	case v == 0:
		return def, "", nil
	case v > limit:
		return limit, fmt.Sprintf("%s clamped to %d%s", name, limit, unit), nil
	}
	return v, "", nil
}

// appendNote adds note to notes unless it is empty.
func appendNote(notes []string, note string) []string {
	if note == "" {
		return notes
	}
	return append(notes, note)
}

// tailFileArgv is the tail argv for a log file, and its source label.
func (e *Env) tailFileArgv(path string, lines, follow int) ([]string, string, error) {
	p, err := e.resolve(path)
	if err != nil {
		return nil, "", err
	}
	if err := checkTailable(p); err != nil {
		return nil, "", err
	}
	tail, err := exec.LookPath("tail")
	if err != nil {
		return nil, "", errors.New("the tail program is not installed on this host: use read_file instead")
	}
	// "--" so a path starting with '-' is never an option.
	argv := []string{tail, "-n", strconv.Itoa(lines)}
	if follow > 0 {
		argv = append(argv, "-F")
	}
	return append(argv, "--", p), p, nil
}

// journalArgv is the journalctl argv for a unit, and its source label.
func (e *Env) journalArgv(unit string, lines, follow int) ([]string, string, error) {
	if err := validateUnit("journalctl_unit", unit); err != nil {
		return nil, "", err
	}
	if err := booted(e.Systemd); err != nil {
		return nil, "", fmt.Errorf("%w; read the service's log file with path= instead (look under /var/log)", err)
	}
	argv, err := e.Systemd.JournalArgv(unit, lines, follow > 0)
	if err != nil {
		return nil, "", fmt.Errorf("%w: read the service's log file with path= instead (look under /var/log)", err)
	}
	return argv, "journalctl --unit=" + unit, nil
}

// checkTailable gives the model a precise reason instead of tail's stderr,
// and refuses devices and pipes, which tail would read for ever.
func checkTailable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist: check the path with list_directory (logs are usually under /var/log)", p)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("permission denied on %s: servagent's user cannot reach it; use execute_command with `sudo -n tail -n 50 -- %s` if sudo is set up", p, p)
	case err != nil:
		return fmt.Errorf("cannot stat %s: %w", p, err)
	case fi.IsDir():
		return fmt.Errorf("%s is a directory: pass a file inside it (list_directory shows them)", p)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file (%s): tail_file reads log files only", p, fi.Mode().Type())
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("permission denied reading %s: use execute_command with `sudo -n tail -n 50 -- %s` if sudo is set up", p, p)
		}
		return fmt.Errorf("cannot open %s: %w", p, err)
	}
	f.Close()
	return nil
}

func tailText(o TailFileOutput) *mcp.CallToolResult {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d lines", o.Source, o.Lines)
	if o.Grep != "" {
		fmt.Fprintf(&b, " containing %q", o.Grep)
	}
	if o.Followed {
		fmt.Fprintf(&b, ", followed for %ds", o.FollowSeconds)
	}
	if o.Notes != "" {
		b.WriteString(" (" + o.Notes + ")")
	}
	b.WriteString("\n")
	if o.Stderr != "" {
		b.WriteString("stderr: " + o.Stderr + "\n")
	}
	if o.Output == "" {
		b.WriteString("(no lines)\n")
	} else {
		b.WriteString(o.Output)
		if !strings.HasSuffix(o.Output, "\n") {
			b.WriteString("\n")
		}
	}
	return textResult("%s", b.String())
}

// lineWriter splits a stream into lines, keeps those containing grep
// (lower-cased; plain substring, so regex and shell syntax mean nothing) and
// counts what it passes on.
type lineWriter struct {
	mu      sync.Mutex
	w       io.Writer
	grep    string
	partial []byte
	lines   int
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.partial = append(l.partial, p...)
			if len(l.partial) >= grepMaxLine {
				l.emit(l.partial, false)
				l.partial = l.partial[:0]
			}
			break
		}
		if len(l.partial) > 0 {
			l.partial = append(l.partial, p[:i+1]...)
			l.emit(l.partial, true)
			l.partial = l.partial[:0]
		} else {
			l.emit(p[:i+1], true)
		}
		p = p[i+1:]
	}
	return n, nil
}

func (l *lineWriter) emit(line []byte, complete bool) {
	if l.grep != "" && !strings.Contains(strings.ToLower(string(line)), l.grep) {
		return
	}
	l.w.Write(line)
	if complete {
		l.lines++
	}
}

// Flush passes on a last line that had no newline.
func (l *lineWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		before := l.lines
		l.emit(l.partial, true)
		if l.lines > before {
			l.w.Write([]byte("\n"))
		}
		l.partial = nil
	}
}

// Lines is the number of lines passed on.
func (l *lineWriter) Lines() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines
}
