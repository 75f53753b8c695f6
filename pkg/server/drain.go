package server

import (
	"context"
	"sync"
)

// callTracker counts the tool calls running now and says when there are
// none. Unlike a sync.WaitGroup it allows new calls while someone waits:
// during a graceful shutdown, calls may still arrive on open connections.
type callTracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil while n is 0
}

func (c *callTracker) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		c.idle = make(chan struct{})
	}
	c.n++
}

func (c *callTracker) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	if c.n == 0 {
		close(c.idle)
		c.idle = nil
	}
}

// wait returns when no call runs, or when ctx ends; it returns how many
// calls are still running.
func (c *callTracker) wait(ctx context.Context) int {
	for {
		c.mu.Lock()
		n, idle := c.n, c.idle
		c.mu.Unlock()
		if n == 0 {
			return 0
		}
		select {
		case <-idle:
		case <-ctx.Done():
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.n
		}
	}
}
