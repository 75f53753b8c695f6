package oauth

import (
	"sync"
	"time"
)

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
