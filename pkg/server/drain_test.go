package server

import (
	"context"
	"testing"
	"time"
)

func TestCallTrackerWaitsForTheLastCall(t *testing.T) {
	var c callTracker
	if n := c.wait(context.Background()); n != 0 {
		t.Fatalf("idle tracker: %d running", n)
	}
	c.start()
	c.start()
	got := make(chan int, 1)
	go func() { got <- c.wait(context.Background()) }()
	c.done()
	// A call that starts while someone waits is waited for too.
	c.start()
	c.done()
	select {
	case n := <-got:
		t.Fatalf("wait returned %d with a call still running", n)
	case <-time.After(50 * time.Millisecond):
	}
	c.done()
	select {
	case n := <-got:
		if n != 0 {
			t.Fatalf("wait returned %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not return after the last call")
	}
}

func TestCallTrackerWaitGivesUpWithItsContext(t *testing.T) {
	var c callTracker
	c.start()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if n := c.wait(ctx); n != 1 {
		t.Fatalf("wait = %d, want 1 still running", n)
	}
}
