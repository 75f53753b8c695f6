package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestArgvIsNotParsedByAShell(t *testing.T) {
	r := New()
	var out bytes.Buffer
	res, err := r.Run(context.Background(), Cmd{Argv: []string{"echo", "a; touch /tmp/x", "$(id)"}, Stdout: &out})
	if err != nil || res.ExitCode != 0 || out.String() != "a; touch /tmp/x $(id)\n" {
		t.Fatalf("%v %+v %q", err, res, out.String())
	}
}

func TestShutdownKillsRunningGroupsAndRefusesNewOnes(t *testing.T) {
	r := New()
	r.Grace = 200 * time.Millisecond
	started := make(chan struct{})
	done := make(chan Result, 1)
	var out bytes.Buffer
	go func() {
		res, _ := r.Run(context.Background(), Cmd{Script: "trap '' TERM; echo up; sleep 300 & wait", Stdout: &syncWriter{w: &out, ready: started}})
		done <- res
	}()
	<-started
	r.Shutdown()
	select {
	case res := <-done:
		if res.ExitCode != -1 || res.Signal != syscall.SIGKILL.String() {
			t.Errorf("want SIGKILL after ignoring TERM, got %+v", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("group survived Shutdown")
	}
	if _, err := r.Run(context.Background(), Cmd{Script: "true"}); err != ErrShuttingDown {
		t.Fatalf("Run after Shutdown: %v", err)
	}
	if r.Running() != 0 {
		t.Fatalf("%d groups still tracked", r.Running())
	}
}

// A command that dies at SIGTERM does not hold Shutdown for the grace.
func TestShutdownReturnsOnceEveryCommandIsGone(t *testing.T) {
	r := New()
	r.Grace = 5 * time.Second
	p, err := r.Start(Cmd{Script: "sleep 30"})
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan Result, 1)
	go func() {
		res, _ := p.Wait(context.Background())
		waited <- res
	}()
	start := time.Now()
	r.Shutdown()
	if d := time.Since(start); d >= r.Grace/2 {
		t.Fatalf("Shutdown took %v with a grace of %v for a command that dies at SIGTERM", d, r.Grace)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Shutdown returned before the command exited")
	}
	if res := <-waited; res.Signal != syscall.SIGTERM.String() {
		t.Fatalf("want the command ended by SIGTERM, got %+v", res)
	}
}

// A child that ignores SIGTERM keeps its group alive after its shell died:
// Shutdown gives it the whole grace, then SIGKILLs it.
func TestShutdownKillsAChildThatOutlivesItsShellAfterTheGrace(t *testing.T) {
	r := New()
	r.Grace = 300 * time.Millisecond
	pidfile := filepath.Join(t.TempDir(), "pid")
	p, err := r.Start(Cmd{Script: "trap '' TERM; sleep 301 & trap - TERM; echo $! >" + pidfile + "; wait"})
	if err != nil {
		t.Fatal(err)
	}
	go p.Wait(context.Background())
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if data, _ := os.ReadFile(pidfile); strings.HasSuffix(string(data), "\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the script did not write its child's pid")
		}
	}
	child := readPids(t, pidfile, 1)[0]
	start := time.Now()
	r.Shutdown()
	if d := time.Since(start); d < r.Grace {
		t.Fatalf("Shutdown took %v: the child ignoring SIGTERM got less than the grace of %v", d, r.Grace)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the shell survived SIGTERM")
	}
	waitGone(t, []int{child})
}

func TestDaemonHoldingThePipeDoesNotBlockTheCall(t *testing.T) {
	r := New()
	var out bytes.Buffer
	start := time.Now()
	res, err := r.Run(context.Background(), Cmd{Script: "sleep 5 & echo started", Stdout: &out})
	if err != nil || res.ExitCode != 0 || !strings.Contains(out.String(), "started") {
		t.Fatalf("%v %+v %q", err, res, out.String())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("call waited %v for a background child's pipe", d)
	}
}

type syncWriter struct {
	w     *bytes.Buffer
	ready chan struct{}
	once  bool
}

func (s *syncWriter) Write(p []byte) (int, error) {
	if !s.once {
		s.once = true
		close(s.ready)
	}
	return len(p), nil
}
