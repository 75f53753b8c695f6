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
	document      bool // client from a metadata document
	redirectURI   string
	redirectGiven bool
	state         string
	challenge     string
	scope         string
	resource      string
	csrf          string // hidden form field
	browser       string // value of the browser-binding cookie
	addr          string // client address that opened it
	expires       time.Time
}

// pendingStore bounds what unauthenticated callers can create: at most
// perAddr requests per client address (a new one replaces that address's
// oldest) and max in all (then new requests are refused). A flood from one
// address therefore never evicts another address's pending approval.
type pendingStore struct {
	mu      sync.Mutex
	max     int
	perAddr int
	byID    map[string]*pendingAuth
}

func newPendingStore(max, perAddr int) *pendingStore {
	return &pendingStore{max: max, perAddr: perAddr, byID: map[string]*pendingAuth{}}
}

// put stores a, created by addr; false means the store is full.
func (p *pendingStore) put(id, addr string, a *pendingAuth, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	a.addr = addr
	var oldID string
	var old time.Time
	n := 0
	for k, v := range p.byID {
		if v.addr != addr {
			continue
		}
		n++
		if oldID == "" || v.expires.Before(old) {
			oldID, old = k, v.expires
		}
	}
	if n >= p.perAddr {
		delete(p.byID, oldID)
	} else if len(p.byID) >= p.max {
		p.purgeLocked(now)
		if len(p.byID) >= p.max {
			return false
		}
	}
	p.byID[id] = a
	return true
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
