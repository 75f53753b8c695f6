// Package timeutil holds servagent's one cancellable sleep.
package timeutil

import (
	"context"
	"time"
)

// Sleep waits d and reports true, or reports false as soon as ctx ends. A
// d of zero or less does not wait; it still reports false for an ended ctx,
// so a retry loop stops either way.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
