package jobs

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// Attached jobs (commands still running within their call) count against
// MaxJobs from their start: detaching them, as a call that yields does,
// never takes the jobs running past the limit.
func TestMaxJobsCountsAttachedJobs(t *testing.T) {
	m := newManager(t, Options{MaxJobs: 2, SlotWait: -1})
	var started []*Job
	var refused error
	for range 10 {
		j, err := m.Start("k", Spec{Attached: true, Script: `sleep 100`})
		if err != nil {
			refused = err
			break
		}
		started = append(started, j)
	}
	if len(started) != 2 {
		t.Fatalf("%d attached jobs started with MaxJobs 2", len(started))
	}
	if !errors.Is(refused, ErrTooMany) {
		t.Fatalf("third attached start: %v, want ErrTooMany", refused)
	}
	for _, want := range []string{"SERVAGENT_MAX_JOBS", "kill_job", "wait"} {
		if !strings.Contains(refused.Error(), want) {
			t.Errorf("refusal %q does not mention %q", refused, want)
		}
	}
	if m.Running() != 2 {
		t.Fatalf("running %d, want 2 attached", m.Running())
	}
	if _, err := m.Start("k", Spec{Script: `sleep 100`}); !errors.Is(err, ErrTooMany) {
		t.Fatalf("background start beside 2 attached jobs: %v", err)
	}
	for _, j := range started {
		if !j.Detach() {
			t.Fatal("a running job did not detach")
		}
	}
	if n, live := m.Running(), len(m.List("k")); n != 2 || live != 2 {
		t.Fatalf("after detaching: running %d, listed %d, want 2 and 2", n, live)
	}
	// A slot frees when a job ends, and only then.
	started[0].Kill(0)
	j := start(t, m, "k", Spec{Attached: true, Script: `sleep 100`})
	if _, err := m.Start("k", Spec{Attached: true, Script: `true`}); !errors.Is(err, ErrTooMany) {
		t.Fatalf("start past the limit after one slot was taken again: %v", err)
	}
	j.Kill(0)
	started[1].Kill(0)
	if m.Running() != 0 {
		t.Fatalf("running %d after every job ended", m.Running())
	}
}

// Concurrent attached starts, all detached at once, leave exactly MaxJobs
// processes running: counted by asking each job, not the manager.
func TestConcurrentAttachedStartsRespectMaxJobs(t *testing.T) {
	const limit = 3
	m := newManager(t, Options{MaxJobs: limit, SlotWait: -1})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		jobs    []*Job
		refused int
	)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := m.Start("k", Spec{Attached: true, Script: `sleep 100`, Env: []string{"PATH=/usr/bin:/bin"}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				jobs = append(jobs, j)
			case errors.Is(err, ErrTooMany):
				refused++
			default:
				t.Errorf("start: %v", err)
			}
		}()
	}
	wg.Wait()
	live := 0
	for _, j := range jobs {
		if j.Detach() && j.Running() {
			live++
		}
	}
	if live != limit || refused != 20-limit {
		t.Fatalf("%d jobs running after detaching, %d refused; want %d and %d", live, refused, limit, 20-limit)
	}
}

// A start at the limit waits up to SlotWait for a slot: a burst of short
// commands queues instead of failing, and a full house still gets the
// clear refusal once the wait is over.
func TestStartWaitsBrieflyForASlot(t *testing.T) {
	m := newManager(t, Options{MaxJobs: 1, SlotWait: 3 * time.Second})
	first, err := m.Start("k", Spec{Attached: true, Script: `sleep 0.3`})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	second, err := m.Start("k", Spec{Attached: true, Script: `echo next`})
	if err != nil {
		t.Fatalf("start at the limit, while a 0.3 s job runs: %v", err)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("second start took %v: it did not wait for the first job's slot", waited)
	}
	<-first.Done()
	<-second.Done()

	short := newManager(t, Options{MaxJobs: 1, SlotWait: 200 * time.Millisecond})
	if _, err := short.Start("k", Spec{Attached: true, Script: `sleep 100`}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := short.Start("k", Spec{Attached: true, Script: `true`}); !errors.Is(err, ErrTooMany) {
		t.Fatalf("start beside a long job after the wait: %v, want ErrTooMany", err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond || waited > 3*time.Second {
		t.Errorf("refusal came after %v, want about the 200 ms slot wait", waited)
	}
}
