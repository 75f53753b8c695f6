package oauth

import (
	"sync"
	"time"
)

// limiter allows at most n events per key in any sliding window of length
// per. It keeps a bounded number of keys so that a flood of distinct
// addresses cannot grow memory without limit.
type limiter struct {
	mu     sync.Mutex
	n      int
	per    time.Duration
	events map[string][]time.Time
}

const limiterMaxKeys = 10000

func newLimiter(n int, per time.Duration) *limiter {
	return &limiter{n: n, per: per, events: map[string][]time.Time{}}
}

// allow records an event for key and reports whether it is within the limit.
// Refused events are not recorded, so a client that waits gets through.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := l.recent(key, now)
	if len(ev) >= l.n {
		l.events[key] = ev
		return false
	}
	if _, ok := l.events[key]; !ok && len(l.events) >= limiterMaxKeys {
		l.purgeLocked(now)
		if len(l.events) >= limiterMaxKeys {
			// Still full of live keys: fail closed rather than forget a
			// key that is being rate limited.
			return false
		}
	}
	l.events[key] = append(ev, now)
	return true
}

// refund forgets the latest event of key: a successful approval should not
// use up the operator's budget. Counting first and refunding after keeps
// parallel guesses from all slipping past the check.
func (l *limiter) refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ev := l.events[key]; len(ev) > 0 {
		l.events[key] = ev[:len(ev)-1]
	}
}

// allowed reports whether key is under the limit, without recording.
func (l *limiter) allowed(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(key, now)) < l.n
}

func (l *limiter) recent(key string, now time.Time) []time.Time {
	ev := l.events[key]
	i := 0
	for i < len(ev) && now.Sub(ev[i]) >= l.per {
		i++
	}
	return ev[i:]
}

func (l *limiter) purge(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.purgeLocked(now)
}

func (l *limiter) purgeLocked(now time.Time) {
	for k := range l.events {
		if ev := l.recent(k, now); len(ev) == 0 {
			delete(l.events, k)
		} else {
			l.events[k] = ev
		}
	}
}

// pendingAuth is an authorization request validated by GET /mcp/authorize
// and waiting for the operator's approval. It lives in memory only: losing
// it on restart just means the operator reloads the page.
type pendingAuth struct {
	clientID      string
	clientName    string
	redirectURI   string
	redirectGiven bool
	state         string
	challenge     string
	scope         string
	resource      string
	csrf          string // hidden form field
	browser       string // value of the browser-binding cookie
	expires       time.Time
}

type pendingStore struct {
	mu   sync.Mutex
	max  int
	byID map[string]*pendingAuth
}

func newPendingStore(max int) *pendingStore {
	return &pendingStore{max: max, byID: map[string]*pendingAuth{}}
}

func (p *pendingStore) put(id string, a *pendingAuth, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.byID) >= p.max {
		p.purgeLocked(now)
	}
	for len(p.byID) >= p.max {
		// Evict the request closest to expiry; unauthenticated callers can
		// create these, so the map must stay bounded.
		var oldID string
		var old time.Time
		for k, v := range p.byID {
			if oldID == "" || v.expires.Before(old) {
				oldID, old = k, v.expires
			}
		}
		delete(p.byID, oldID)
	}
	p.byID[id] = a
}

func (p *pendingStore) get(id string, now time.Time) *pendingAuth {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.byID[id]
	if a == nil {
		return nil
	}
	if !now.Before(a.expires) {
		delete(p.byID, id)
		return nil
	}
	return a
}

// take removes and returns the request, so that one approval yields one code.
func (p *pendingStore) take(id string) *pendingAuth {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.byID[id]
	delete(p.byID, id)
	return a
}

func (p *pendingStore) purge(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.purgeLocked(now)
}

func (p *pendingStore) purgeLocked(now time.Time) {
	for k, v := range p.byID {
		if !now.Before(v.expires) {
			delete(p.byID, k)
		}
	}
}
