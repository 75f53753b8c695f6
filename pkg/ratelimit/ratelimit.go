// Package ratelimit is servagent's one sliding-window limiter, used to slow
// down guessing of secrets: API keys, OAuth client secrets, the approval
// password.
package ratelimit

import (
	"sync"
	"time"
)

// Limiter allows at most n events per key in any sliding window of length
// per. It keeps a bounded number of keys so that a flood of distinct
// addresses cannot grow memory without limit.
type Limiter struct {
	mu     sync.Mutex
	n      int
	per    time.Duration
	events map[string][]time.Time
	evict  bool // when full, forget the least recently seen key (NewEvicting)
}

const maxKeys = 10000

// New returns a Limiter of n events per key per window.
func New(n int, per time.Duration) *Limiter {
	return &Limiter{n: n, per: per, events: map[string][]time.Time{}}
}

// NewEvicting is New for limits on floods rather than on guessing: when it
// tracks its maximum of keys, it forgets the least recently seen one instead
// of refusing every new key, so a flood from many addresses cannot lock
// everyone else out.
func NewEvicting(n int, per time.Duration) *Limiter {
	l := New(n, per)
	l.evict = true
	return l
}

// Allow records an event for key and reports whether it is within the limit.
// Refused events are not recorded, so a client that waits gets through.
func (l *Limiter) Allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := l.recent(key, now)
	if len(ev) >= l.n {
		l.events[key] = ev
		return false
	}
	if _, ok := l.events[key]; !ok && len(l.events) >= maxKeys {
		l.purgeLocked(now)
		if len(l.events) >= maxKeys && l.evict {
			l.evictOldestLocked()
		}
		if len(l.events) >= maxKeys {
			// Still full of live keys: fail closed rather than forget a
			// key that is being rate limited.
			return false
		}
	}
	l.events[key] = append(ev, now)
	return true
}

// Refund forgets the latest event of key: a successful approval should not
// use up the operator's budget. Counting first and refunding after keeps
// parallel guesses from all slipping past the check.
func (l *Limiter) Refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ev := l.events[key]; len(ev) > 0 {
		l.events[key] = ev[:len(ev)-1]
	}
}

// Allowed reports whether key is under the limit, without recording.
func (l *Limiter) Allowed(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(key, now)) < l.n
}

// Remaining is how many more events key may have now (0 when limited).
func (l *Limiter) Remaining(key string, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(0, l.n-len(l.recent(key, now)))
}

func (l *Limiter) recent(key string, now time.Time) []time.Time {
	ev := l.events[key]
	i := 0
	for i < len(ev) && now.Sub(ev[i]) >= l.per {
		i++
	}
	return ev[i:]
}

// Purge drops keys with no recent events.
func (l *Limiter) Purge(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.purgeLocked(now)
}

func (l *Limiter) purgeLocked(now time.Time) {
	for k := range l.events {
		if ev := l.recent(k, now); len(ev) == 0 {
			delete(l.events, k)
		} else {
			l.events[k] = ev
		}
	}
}

func (l *Limiter) evictOldestLocked() {
	var oldKey string
	var old time.Time
	for k, ev := range l.events {
		if len(ev) == 0 {
			oldKey = k
			break
		}
		if last := ev[len(ev)-1]; oldKey == "" || last.Before(old) {
			oldKey, old = k, last
		}
	}
	delete(l.events, oldKey)
}
