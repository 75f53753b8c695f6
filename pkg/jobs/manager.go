// Package jobs runs commands that outlive the tool call that started them:
// with or without a pseudo-terminal, their ordered output kept in a bounded
// log that reads return piece by piece (waiting, event-driven, for more),
// input and named keys written to them, and kills that reach the whole job.
// A job belongs to the credential that started it, not to an MCP session.
package jobs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/servagent/servagent/pkg/runner"
)

// Defaults of SERVAGENT_MAX_JOBS and SERVAGENT_JOB_RETENTION.
const (
	DefaultMaxJobs   = 16
	DefaultRetention = time.Hour
	DefaultMaxOutput = 1_000_000
	// DefaultSlotWait is how long a start waits for a slot when MaxJobs
	// are running: a burst of short commands queues briefly instead of
	// failing; a full house of long ones still gets a clear error.
	DefaultSlotWait = 5 * time.Second
)

// Options configure a Manager; zero values mean the defaults.
type Options struct {
	Runner    *runner.Runner
	MaxJobs   int           // running at most, over every owner
	Retention time.Duration // how long a finished job stays readable
	MaxOutput int64         // bytes of output kept per job (head and tail)
	Logger    *slog.Logger  // audit lines: job start, input (size only), end
	SlotWait  time.Duration // how long a start waits for a free slot (0: DefaultSlotWait; < 0: not at all)
}

// Manager holds the jobs of every owner.
type Manager struct {
	opts Options

	mu       sync.Mutex
	jobs     map[string]*Job
	finished []*Job        // detached jobs that ended, oldest first (some may be forgotten already)
	running  int           // jobs started and not ended, attached or not: at most MaxJobs
	freed    chan struct{} // closed (and replaced) whenever a slot frees
	closed   bool
}

// keptFinished bounds the finished jobs kept per running-job slot: memory
// stays bounded by the output buffers however many jobs an hour brings.
const keptFinished = 4

// NewManager returns a Manager; opts are copied.
func NewManager(opts Options) *Manager {
	if opts.Runner == nil {
		opts.Runner = runner.New()
	}
	if opts.MaxJobs <= 0 {
		opts.MaxJobs = DefaultMaxJobs
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MaxOutput <= 0 {
		opts.MaxOutput = DefaultMaxOutput
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SlotWait == 0 {
		opts.SlotWait = DefaultSlotWait
	}
	return &Manager{opts: opts, jobs: map[string]*Job{}, freed: make(chan struct{})}
}

// Errors a caller turns into tool errors that say what to do next.
var (
	ErrTooMany      = errors.New("too many jobs running")
	ErrNotFound     = errors.New("no such job")
	ErrOtherOwner   = errors.New("the job belongs to another credential")
	ErrShuttingDown = runner.ErrShuttingDown
)

// Start starts a job owned by owner.
func (m *Manager) Start(owner string, spec Spec) (*Job, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrShuttingDown
	}
	// Every job counts, attached or not: an attached one may be detached
	// (a call that yields) at any time, and Detach cannot refuse then.
	if err := m.waitSlotLocked(); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	m.running++ // reserved before the fork, so concurrent starts respect the limit
	m.mu.Unlock()

	j := &Job{
		ID: newID(), Owner: owner, Display: spec.Display, PTY: spec.PTY, Started: time.Now(),
		log: NewLog(m.opts.MaxOutput), m: m, done: make(chan struct{}), detached: !spec.Attached,
	}
	if err := j.start(spec); err != nil {
		m.mu.Lock()
		m.freeSlotLocked()
		m.mu.Unlock()
		return nil, err
	}
	m.mu.Lock()
	m.jobs[j.ID] = j
	closed := m.closed
	m.mu.Unlock()
	if closed { // Shutdown ran while this one was starting and did not see it
		j.Kill(0)
		return nil, ErrShuttingDown
	}
	m.audit("job start", "job", j.ID, "owner", owner, "command", spec.Display, "pty", spec.PTY,
		"pid", j.proc.Pid(), "cgroup", j.proc.InCgroup())
	return j, nil
}

// waitSlotLocked returns once fewer than MaxJobs run, waiting up to
// SlotWait for one to end; m.mu is held on entry and on return.
func (m *Manager) waitSlotLocked() error {
	deadline := time.Now().Add(m.opts.SlotWait)
	for m.running >= m.opts.MaxJobs {
		left := time.Until(deadline)
		if left <= 0 {
			return m.tooMany()
		}
		freed := m.freed
		m.mu.Unlock()
		t := time.NewTimer(left)
		select {
		case <-freed:
		case <-t.C:
		}
		t.Stop()
		m.mu.Lock()
		if m.closed {
			return ErrShuttingDown
		}
	}
	return nil
}

// freeSlotLocked gives a slot back and wakes the starts waiting for one.
func (m *Manager) freeSlotLocked() {
	m.running--
	close(m.freed)
	m.freed = make(chan struct{})
}

func (m *Manager) tooMany() error {
	return fmt.Errorf("%w (%d, the SERVAGENT_MAX_JOBS limit, counting commands still running within their call): "+
		"wait for one to end or kill_job one (list_jobs shows the background and yielded ones), then try again", ErrTooMany, m.opts.MaxJobs)
}

// detach hands an attached job to its owner (it was counted in when it
// started); false when it already ended.
func (m *Manager) detach(j *Job) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.finished {
		return false
	}
	j.detached = true
	return true
}

// Forget drops a finished job at once (a command that ended within its
// call: its output went back with the call).
func (m *Manager) Forget(j *Job) {
	m.mu.Lock()
	delete(m.jobs, j.ID)
	if j.forget != nil {
		j.forget.Stop() // its closure would keep the output for the retention period
	}
	m.mu.Unlock()
}

// ended counts the job out and schedules it to be forgotten.
func (m *Manager) ended(j *Job, res runner.Result) {
	m.mu.Lock()
	j.mu.Lock()
	j.finished = true
	m.freeSlotLocked()
	j.mu.Unlock()
	m.mu.Unlock()
	m.audit("job end", "job", j.ID, "owner", j.Owner, "exit_code", res.ExitCode, "signal", res.Signal,
		"timed_out", res.TimedOut, "duration_ms", res.Duration.Milliseconds(), "output_bytes", j.log.Size())
	t := time.AfterFunc(m.opts.Retention, func() {
		m.mu.Lock()
		delete(m.jobs, j.ID)
		m.finished = slices.DeleteFunc(m.finished, func(f *Job) bool { return f == j })
		m.mu.Unlock()
	})
	m.mu.Lock()
	j.forget = t
	if j.detached {
		m.finished = append(m.finished, j)
		for len(m.finished) > keptFinished*m.opts.MaxJobs {
			old := m.finished[0]
			m.finished[0] = nil
			m.finished = m.finished[1:]
			if m.jobs[old.ID] == old {
				delete(m.jobs, old.ID)
				old.forget.Stop()
			}
		}
	}
	m.mu.Unlock()
}

func (m *Manager) audit(msg string, args ...any) { m.opts.Logger.Info(msg, args...) }

// Get returns owner's job id.
func (m *Manager) Get(owner, id string) (*Job, error) {
	m.mu.Lock()
	j, ok := m.jobs[id]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w %q: it never existed, or it ended more than %s ago and was forgotten; list_jobs shows the jobs there are", ErrNotFound, id, m.opts.Retention)
	}
	if j.Owner != owner {
		return nil, fmt.Errorf("%w: job %q was started with another API key or OAuth client; only that credential can use it", ErrOtherOwner, id)
	}
	return j, nil
}

// Info is one row of List.
type Info struct {
	ID         string
	Command    string
	PTY        bool
	Running    bool
	ExitCode   *int
	Signal     string
	Started    time.Time
	OutputSize int64
}

// List returns owner's jobs, oldest first.
func (m *Manager) List(owner string) []Info {
	m.mu.Lock()
	var js []*Job
	for _, j := range m.jobs {
		j.mu.Lock()
		detached := j.detached
		j.mu.Unlock()
		if j.Owner == owner && detached {
			js = append(js, j)
		}
	}
	m.mu.Unlock()
	sort.Slice(js, func(a, b int) bool { return js[a].Started.Before(js[b].Started) })
	out := make([]Info, 0, len(js))
	for _, j := range js {
		st := j.status()
		out = append(out, Info{ID: j.ID, Command: j.Display, PTY: j.PTY, Running: st.Running,
			ExitCode: st.ExitCode, Signal: st.Signal, Started: j.Started, OutputSize: st.OutputSize})
	}
	return out
}

// Running is the number of jobs running now, attached or detached.
func (m *Manager) Running() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running
}

// Shutdown refuses new jobs, kills every running one (TERM, then KILL after
// the grace, all at once) and returns how many it killed.
func (m *Manager) Shutdown() int {
	m.mu.Lock()
	m.closed = true
	var live []*Job
	for _, j := range m.jobs {
		if j.Running() {
			live = append(live, j)
		}
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, j := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j.Kill(0)
		}()
	}
	wg.Wait()
	return len(live)
}

// newID returns a job id such as job_3f9a1c2b7d4e.
func newID() string {
	var b [6]byte
	rand.Read(b[:])
	return "job_" + hex.EncodeToString(b[:])
}
