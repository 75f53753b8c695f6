package logtest

import (
	"strings"
	"sync"
	"testing"
	"time"
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

func TestStampLatencies(t *testing.T) {
	now := time.Unix(100, 0)
	lat, rest, err := StampLatencies("99000000000\n99500000000\n9950", now)
	if err != nil || rest != "9950" || len(lat) != 2 || lat[0] != time.Second || lat[1] != 500*time.Millisecond {
		t.Fatalf("got %v %q %v", lat, rest, err)
	}
	if _, _, err := StampLatencies("not a stamp\n", now); err == nil {
		t.Fatal("a line that is not a stamp was accepted")
	}
}
