package timeutil

import (
	"context"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	start := time.Now()
	if !Sleep(context.Background(), 20*time.Millisecond) || time.Since(start) < 20*time.Millisecond {
		t.Error("did not wait the full duration")
	}
	if !Sleep(context.Background(), 0) {
		t.Error("a zero wait on a live context reports false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, 0) {
		t.Error("a zero wait on an ended context reports true")
	}
	start = time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if Sleep(ctx, time.Minute) || time.Since(start) > 10*time.Second {
		t.Error("did not stop when the context ended")
	}
}
