package runner

import (
	"bytes"
	"context"
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
