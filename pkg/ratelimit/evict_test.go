package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

// TestEvictingForgetsOldest: full of live keys, New refuses a new key and
// NewEvicting forgets the least recently seen one instead.
func TestEvictingForgetsOldest(t *testing.T) {
	now := time.Now()
	strict, evicting := New(1, time.Minute), NewEvicting(1, time.Minute)
	for i := range maxKeys {
		at := now.Add(time.Duration(i) * time.Millisecond)
		strict.Allow(strconv.Itoa(i), at)
		evicting.Allow(strconv.Itoa(i), at)
	}
	later := now.Add(20 * time.Second)
	if strict.Allow("new", later) {
		t.Fatal("New accepted a key past its maximum")
	}
	if !evicting.Allow("new", later) {
		t.Fatal("NewEvicting refused a new key")
	}
	if !evicting.Allow("0", later) {
		t.Fatal("the oldest key (0) was not the one forgotten")
	}
	if evicting.Allow(strconv.Itoa(maxKeys-1), later) {
		t.Fatal("a recent key lost its count")
	}
}
