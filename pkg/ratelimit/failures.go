package ratelimit

import (
	"net/netip"
	"sync"
	"time"
)

// AddrKey is the key per-address limits count on: the address, an IPv6 one
// cut to its /64 (what one subscriber usually gets, so that walking through
// its own addresses buys nothing), a mapped IPv4 one unmapped.
func AddrKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// Failures guards a secret check. It counts failed checks per client
// address and across all addresses (a backstop for when addresses are
// cheap: a proxy that passes a client's X-Forwarded-For through, many
// hosts), and bounds the penalised checks an address past its own limit
// has in flight, so that concurrency does not multiply its guess rate.
//
// It counts only failures: the caller checks the secret first, so a
// correct secret passes whatever the counts, the global one included —
// except from an address past its own limit that already has its
// in-flight penalised checks running, which Begin refuses unchecked.
type Failures struct {
	perAddr  *Limiter
	global   *Limiter
	inFlight int

	mu      sync.Mutex
	pending map[string]int // checks under the address limit running now
	busy    map[string]int // penalised checks running now, per key
}

// NewFailures allows perAddr failures per address and global failures in
// all per window; past its own limit, at most inFlight checks of one
// address run at once.
func NewFailures(perAddr, global int, per time.Duration, inFlight int) *Failures {
	if inFlight < 1 {
		inFlight = 1
	}
	return &Failures{perAddr: New(perAddr, per), global: New(global, per), inFlight: inFlight,
		pending: map[string]int{}, busy: map[string]int{}}
}

// globalKey is the one key of the global limiter.
const globalKey = ""

// Attempt is one secret check admitted by Begin.
type Attempt struct {
	f        *Failures
	key      string
	start    time.Time
	held     bool // holds one of key's in-flight slots
	reserved bool // holds one of the failures left under the address limit
	failed   bool
	ended    bool
}

// Begin admits a check for the address key (an AddrKey) before the secret
// is looked at. Under the address's limit it always admits, and reserves
// one of the failures left until it ends, so parallel checks cannot all
// slip under a limit that has room for a few. Past it the check is
// penalised and takes one of key's in-flight slots; with none free, ok is
// false and the request must be answered without checking. The global
// budget never refuses a check: it only makes failures count as over.
func (f *Failures) Begin(key string, now time.Time) (a *Attempt, ok bool) {
	a = &Attempt{f: f, key: key, start: now}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.perAddr.Remaining(key, now) > f.pending[key] {
		f.pending[key]++
		a.reserved = true
		return a, true
	}
	if f.busy[key] >= f.inFlight {
		return nil, false
	}
	f.busy[key]++
	a.held = true
	return a, true
}

// Fail counts a failed check against the address and the global budget
// and reports which limit, if any, it is past.
func (a *Attempt) Fail(now time.Time) (overAddr, overGlobal bool) {
	a.failed = true
	overAddr = !a.f.perAddr.Allow(a.key, now)
	overGlobal = !a.f.global.Allow(globalKey, now)
	return overAddr, overGlobal
}

// End releases the attempt's slot: at once after a successful check, and
// hold after Begin after a failed one, even when the client has gone, so
// that closing a connection and guessing again buys nothing.
func (a *Attempt) End(hold time.Duration) {
	if a == nil || a.ended {
		return
	}
	a.ended = true
	if a.reserved {
		a.unreserve()
	}
	if !a.held {
		return
	}
	if left := time.Until(a.start.Add(hold)); a.failed && left > 0 {
		time.AfterFunc(left, a.release)
		return
	}
	a.release()
}

func (a *Attempt) unreserve() { a.f.decrement(a.f.pending, a.key) }

func (a *Attempt) release() { a.f.decrement(a.f.busy, a.key) }

// decrement takes one check of key off count (pending or busy), dropping
// the key at zero so the maps hold only addresses with checks running.
func (f *Failures) decrement(count map[string]int, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if count[key] <= 1 {
		delete(count, key)
		return
	}
	count[key]--
}

// InFlight is how many penalised checks of key run now (tests, metrics).
func (f *Failures) InFlight(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.busy[key]
}
