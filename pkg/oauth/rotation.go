package oauth

import (
	"maps"
	"sync"
	"time"
)

// maxRotations bounds the log; past it (after a purge) rotations are not
// recorded and the strict rule applies to them.
const maxRotations = 10000

// rotationLog remembers, for RefreshReuseInterval, which pair each refresh
// token was rotated into. Connectors retry a refresh concurrently or after a
// lost response; within the interval the old token gets that same pair back
// instead of revoking the family. The window closes early once the new pair
// is used (its access token verified, or its refresh token rotated in turn):
// a client that uses the pair has it, so a later old token is a thief's. It
// lives in memory only: after a restart the strict rule applies, which at
// worst logs a client out.
type rotationLog struct {
	interval time.Duration
	mu       sync.Mutex
	byOld    map[string]rotation // by hash of the rotated refresh token
	byAccess map[string]string   // hash of the new access token -> key in byOld
}

type rotation struct {
	resp       map[string]any // the token response that was sent
	accessHash string
	newHash    string // hash of the refresh token it was rotated into
	at         time.Time
}

func newRotationLog(interval time.Duration) *rotationLog {
	return &rotationLog{interval: interval, byOld: map[string]rotation{}, byAccess: map[string]string{}}
}

func (l *rotationLog) record(oldHash string, r rotation) {
	if l.interval <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.byOld) >= maxRotations {
		l.purgeLocked(r.at)
		if len(l.byOld) >= maxRotations {
			return
		}
	}
	l.byOld[oldHash] = r
	l.byAccess[r.accessHash] = oldHash
}

// used closes the window of the rotation that issued accessHash: its pair
// is in use.
func (l *rotationLog) used(accessHash string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.byAccess[accessHash]; ok {
		delete(l.byOld, old)
		delete(l.byAccess, accessHash)
	}
}

// lookup returns the rotation of oldHash if it is within the interval; the
// response is a copy with expires_in counted from now.
func (l *rotationLog) lookup(oldHash string, now time.Time) (rotation, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.byOld[oldHash]
	if !ok || now.Sub(r.at) > l.interval || now.Before(r.at) {
		return rotation{}, false
	}
	r.resp = maps.Clone(r.resp)
	r.resp["expires_in"] = int((accessTTL - now.Sub(r.at)).Seconds())
	return r, true
}

func (l *rotationLog) purge(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.purgeLocked(now)
}

func (l *rotationLog) purgeLocked(now time.Time) {
	for k, r := range l.byOld {
		if now.Sub(r.at) > l.interval {
			delete(l.byOld, k)
			delete(l.byAccess, r.accessHash)
		}
	}
}
