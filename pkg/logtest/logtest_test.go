package logtest

import (
	"strings"
	"sync"
	"testing"
)

// Run with -race: concurrent writes and reads must not race, and no write is lost.
func TestBufferConcurrentWriters(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				b.Write([]byte("x\n"))
				_ = b.Len()
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if got := strings.Count(b.String(), "x\n"); got != 800 || b.Len() != 1600 {
		t.Fatalf("%d lines, %d bytes; want 800 lines, 1600 bytes", got, b.Len())
	}
}
