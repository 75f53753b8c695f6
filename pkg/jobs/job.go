package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/servagent/servagent/pkg/runner"
)

// Terminal defaults: TERM and the size a PTY job gets unless told otherwise.
const (
	TermName    = "xterm-256color"
	DefaultCols = 120
	DefaultRows = 40
)

// ptyDrain bounds how long the end of a PTY job waits for the terminal's
// last output once the shell has exited: a background child may hold it.
const ptyDrain = 500 * time.Millisecond

// Spec describes a job to start.
type Spec struct {
	Script  string // run by the runner's shell
	Display string // the command as audit lines and list_jobs show it
	Dir     string
	Env     []string // full environment
	Timeout time.Duration
	PTY     bool
	Cols    int // terminal size; 0 = DefaultCols / DefaultRows
	Rows    int
	// Stdin is written to the job's stdin (or terminal) first. Without a
	// terminal, stdin then ends (EOF) unless OpenStdin keeps it open for
	// Input; with neither, stdin is /dev/null.
	Stdin     string
	OpenStdin bool
	// Attached: the job belongs to a tool call that waits for it; it
	// counts against MaxJobs like any job but shows in List only after
	// Detach.
	Attached bool
	// TeeStdout and TeeStderr, without a terminal, also get the output.
	TeeStdout, TeeStderr io.Writer
}

// Job is one running or finished command.
type Job struct {
	ID      string
	Owner   string
	Display string
	PTY     bool
	Started time.Time

	log   *Log
	proc  *runner.Process
	m     *Manager
	tty   string   // terminal path (/dev/pts/N) of a PTY job
	input *os.File // PTY master, or the write end of the stdin pipe; nil: no input

	mu       sync.Mutex
	cursor   int64 // where the next read without since starts
	ended    bool
	detached bool        // handed to its owner: shows in List, kept once ended
	finished bool        // counted out by the manager (set just before ended)
	forget   *time.Timer // forgets the job after the retention; guarded by the manager's mu
	res      runner.Result
	done     chan struct{} // closed once ended is set
	inMu     sync.Mutex    // serialises writes to input
	closed   bool          // input closed (ctrl-d on a pipe, or the end)
}

// start runs spec under the manager's runner.
func (j *Job) start(spec Spec) error {
	cmd := runner.Cmd{Script: spec.Script, Dir: spec.Dir, Env: spec.Env, Timeout: spec.Timeout}
	var master, tty *os.File
	var stdinR *os.File
	if spec.PTY {
		var err error
		master, tty, err = pty.Open()
		if err != nil {
			return fmt.Errorf("opening a pseudo-terminal: %w", err)
		}
		cols, rows := spec.Cols, spec.Rows
		if cols <= 0 {
			cols = DefaultCols
		}
		if rows <= 0 {
			rows = DefaultRows
		}
		if err := pty.Setsize(master, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)}); err != nil {
			master.Close()
			tty.Close()
			return fmt.Errorf("sizing the terminal: %w", err)
		}
		if master, err = pollable(master); err != nil {
			tty.Close()
			return err
		}
		j.tty = tty.Name()
		cmd.TTY = tty
		cmd.Env = withEnv(spec.Env, "TERM", TermName)
		j.input = master
	} else {
		cmd.Stdout = tee(streamWriter{j.log, Stdout}, spec.TeeStdout)
		cmd.Stderr = tee(streamWriter{j.log, Stderr}, spec.TeeStderr)
		switch {
		case spec.OpenStdin:
			r, w, err := os.Pipe()
			if err != nil {
				return err
			}
			stdinR = r
			cmd.Stdin = r
			j.input = w
		case spec.Stdin != "":
			cmd.Stdin = strings.NewReader(spec.Stdin)
		}
	}
	p, err := j.m.opts.Runner.Start(cmd)
	// The child has its copies; ours would keep the terminal or the pipe open.
	if tty != nil {
		tty.Close()
	}
	if stdinR != nil {
		stdinR.Close()
	}
	if err != nil {
		if j.input != nil {
			j.input.Close()
		}
		return err
	}
	j.proc = p
	if j.input != nil && spec.Stdin != "" {
		// In the background and without inMu: a terminal or pipe that nobody
		// reads would block, and the end of the job closes it under inMu.
		go io.WriteString(j.input, spec.Stdin)
	}
	copied := make(chan struct{})
	if master != nil {
		go func() {
			io.Copy(streamWriter{j.log, Stdout}, master)
			close(copied)
		}()
	} else {
		close(copied)
	}
	go j.wait(copied)
	return nil
}

// wait records the end of the job once its shell has exited.
func (j *Job) wait(copied <-chan struct{}) {
	res, _ := j.proc.Wait(context.Background())
	if j.PTY {
		select {
		case <-copied: // every holder of the terminal closed it
		case <-time.After(ptyDrain):
		}
	}
	j.inMu.Lock()
	j.closed = true
	if j.input != nil {
		j.input.Close() // also ends the copy from the master
	}
	j.inMu.Unlock()
	<-copied
	// Counted out and audited first: whoever sees the end can start another.
	j.m.ended(j, res)
	j.mu.Lock()
	j.ended, j.res = true, res
	j.mu.Unlock()
	j.log.Close()
	close(j.done)
}

// pollable returns f as a non-blocking file of Go's poller, and closes f:
// pty's ioctls go through Fd(), which leaves the descriptor blocking, and a
// Read blocked on it would then survive Close (a background child holding
// the terminal would keep the job from ending).
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("terminal: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// withEnv sets name=value in env, replacing an earlier value.
func withEnv(env []string, name, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}

func tee(w io.Writer, also io.Writer) io.Writer {
	if also == nil {
		return w
	}
	return io.MultiWriter(w, also)
}

// streamWriter writes into one stream of a log.
type streamWriter struct {
	log *Log
	s   Stream
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.log.Write(w.s, p)
	return len(p), nil
}

// Status is a job's state and the output of one read.
type Status struct {
	Stdout          string
	Stderr          string
	NextOffset      int64
	DroppedBytes    int64 // over the job's life, because the buffer was full
	Running         bool
	ExitCode        *int // once ended
	Signal          string
	TimedOut        bool
	Duration        time.Duration
	WaitingForInput bool
	OutputSize      int64
}

// ReadOptions select what Read returns.
type ReadOptions struct {
	// Since is a byte offset to read from; nil means since the last read.
	Since *int64
	// Wait is how long to wait for new output or the end when there is none.
	Wait time.Duration
	// Plain strips terminal escape sequences.
	Plain bool
}

// inputTimeout bounds how long Input waits for the job to take its bytes.
const inputTimeout = 5 * time.Second

// settle bounds how long a read of a PTY job that just printed a prompt
// (output not ending in a newline) gives the program to start reading.
const settle = 50 * time.Millisecond

// Read returns the output after the cursor (or opts.Since), waiting up to
// opts.Wait for some when there is none yet; it returns as soon as output
// arrives or the job ends, or when ctx ends.
func (j *Job) Read(ctx context.Context, opts ReadOptions) Status {
	j.mu.Lock()
	from := j.cursor
	j.mu.Unlock()
	if opts.Since != nil {
		from = *opts.Since
	}
	if opts.Wait > 0 {
		t := time.NewTimer(opts.Wait)
		defer t.Stop()
		for {
			ch, ready := j.log.Wait(from)
			if ready {
				break
			}
			select {
			case <-ch:
				continue
			case <-t.C:
			case <-ctx.Done():
			}
			break
		}
	}
	c := j.log.ReadFrom(from)
	j.mu.Lock()
	j.cursor = c.Next
	j.mu.Unlock()
	st := j.status()
	st.Stdout, st.Stderr, st.NextOffset = c.Stdout, c.Stderr, c.Next
	if st.Running && j.PTY {
		st.WaitingForInput = j.waitingForInput(c.Stdout)
	}
	if opts.Plain {
		st.Stdout, st.Stderr = Plain(st.Stdout), Plain(st.Stderr)
	}
	return st
}

// waitingForInput checks the terminal; after output that looks like a
// prompt (no final newline) it gives the program a moment to reach read.
func (j *Job) waitingForInput(out string) bool {
	if readingTerminal(j.proc.Pid(), j.tty) {
		return true
	}
	if out == "" || strings.HasSuffix(out, "\n") {
		return false
	}
	deadline := time.Now().Add(settle)
	for time.Now().Before(deadline) {
		select {
		case <-j.done:
			return false
		case <-time.After(5 * time.Millisecond):
		}
		if readingTerminal(j.proc.Pid(), j.tty) {
			return true
		}
	}
	return false
}

// status is the state of the job without output.
func (j *Job) status() Status {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := Status{Running: !j.ended, DroppedBytes: j.log.Dropped(), OutputSize: j.log.Size()}
	if j.ended {
		code := j.res.ExitCode
		st.ExitCode = &code
		st.Signal, st.TimedOut, st.Duration = j.res.Signal, j.res.TimedOut, j.res.Duration
	} else {
		st.Duration = time.Since(j.Started)
	}
	return st
}

// Running reports whether the job has not ended yet.
func (j *Job) Running() bool {
	select {
	case <-j.done:
		return false
	default:
		return true
	}
}

// Done is closed when the job has ended.
func (j *Job) Done() <-chan struct{} { return j.done }

// ErrEnded is returned for input to a job that has ended.
var ErrEnded = errors.New("the job has ended")

// Input writes text and then the named keys to the job's terminal (or stdin).
// Without a terminal, enter is a newline, ctrl-d closes stdin, ctrl-c and
// ctrl-\ send SIGINT and SIGQUIT to the job; other keys need a terminal.
func (j *Job) Input(text string, keys []string) (int, error) {
	for _, k := range keys {
		if err := validKey(k); err != nil {
			return 0, err
		}
	}
	j.inMu.Lock()
	defer j.inMu.Unlock()
	if j.input == nil {
		if !j.Running() {
			return 0, ErrEnded
		}
		return 0, errors.New("this job's stdin is not connected (it reads /dev/null): to type into a command, start it with pty: true or background: true")
	}
	if j.closed {
		if !j.Running() {
			return 0, ErrEnded
		}
		return 0, errors.New("the job's stdin was closed (ctrl-d): it takes no more input")
	}
	n := 0
	// A program that does not read would block the write (a terminal takes
	// about 4 KB) and, holding inMu, the end of the job.
	j.input.SetWriteDeadline(time.Now().Add(inputTimeout))
	write := func(s string) error {
		k, err := io.WriteString(j.input, s)
		n += k
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("the job is not reading its input: %d bytes were taken, the rest was not (read_job_output shows what it does)", n)
		}
		if err != nil {
			return fmt.Errorf("writing to the job: %w", err)
		}
		return nil
	}
	if err := write(text); err != nil {
		return n, err
	}
	for _, k := range keys {
		k = strings.ToLower(k)
		if j.PTY {
			if err := write(terminalKeys[k]); err != nil {
				return n, err
			}
			continue
		}
		switch k {
		case "enter":
			if err := write("\n"); err != nil {
				return n, err
			}
		case "tab":
			if err := write("\t"); err != nil {
				return n, err
			}
		case "ctrl-d":
			j.closed = true
			j.input.Close()
		case "ctrl-c":
			j.proc.Signal(syscall.SIGINT)
		case `ctrl-\`:
			j.proc.Signal(syscall.SIGQUIT)
		default:
			return n, fmt.Errorf("key %q needs a terminal: start the command with pty: true", k)
		}
	}
	j.m.audit("job input", "job", j.ID, "owner", j.Owner, "bytes", n, "keys", len(keys))
	return n, nil
}

// Kill ends the whole job (its process group, or its cgroup): sig (SIGTERM
// when 0), then SIGKILL after the runner's grace. It waits for the end.
func (j *Job) Kill(sig syscall.Signal) {
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	if j.Running() {
		j.proc.Terminate(sig)
	}
	<-j.done
}

// Detach hands an attached job over to its owner: it now shows in List
// (it counted against MaxJobs from its start). It reports false when the
// job already ended.
func (j *Job) Detach() bool {
	return j.m.detach(j)
}
