package auth

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// keyRequest runs one request to /mcp with key from the peer remote and
// returns the status.
func keyRequest(h http.Handler, remote, key string) int {
	req := httptest.NewRequest("POST", "/mcp", nil)
	req.RemoteAddr = remote
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
}

// Addresses of one IPv6 /64 share one failure count: walking through its
// own addresses buys a subscriber nothing. Another /64 is not affected.
func TestFailuresCountIPv6BySlash64(t *testing.T) {
	h := Middleware(Options{APIKey: "right-key", Penalty: time.Millisecond}, okHandler())
	for i := range 30 {
		if code := keyRequest(h, fmt.Sprintf("[2001:db8:1:2::%x]:4000", i+1), "wrong"); code != 401 {
			t.Fatalf("failure %d: %d, want 401", i, code)
		}
	}
	if code := keyRequest(h, "[2001:db8:1:2:ffff::1]:4000", "wrong"); code != 429 {
		t.Errorf("31st failure from the same /64: %d, want 429", code)
	}
	if code := keyRequest(h, "[2001:db8:1:3::1]:4000", "wrong"); code != 401 {
		t.Errorf("another /64: %d, want 401", code)
	}
	if code := keyRequest(h, "[2001:db8:1:2::abc]:4000", "right-key"); code != 200 {
		t.Errorf("correct key from the limited /64: %d, want 200", code)
	}
}

// The global budget is a backstop for cheap addresses: past 300 failures
// a minute across every address, wrong guesses from addresses never seen
// get 429 after the penalty, and the correct key still passes.
func TestGlobalFailureBudgetLimitsRotatingAddresses(t *testing.T) {
	penalty := 30 * time.Millisecond
	h := Middleware(Options{APIKey: "right-key", Penalty: penalty}, okHandler())
	for i := range 300 {
		if code := keyRequest(h, fmt.Sprintf("198.51.%d.%d:4000", i/250, i%250+1), "wrong"); code != 401 {
			t.Fatalf("failure %d from a fresh address: %d, want 401", i, code)
		}
	}
	start := time.Now()
	if code := keyRequest(h, "203.0.113.1:4000", "wrong"); code != 429 {
		t.Errorf("past the global budget, a fresh address: %d, want 429", code)
	}
	if d := time.Since(start); d < penalty {
		t.Errorf("the refusal came after %v, before the %v penalty", d, penalty)
	}
	if code := keyRequest(h, "203.0.113.2:4000", "right-key"); code != 200 {
		t.Errorf("correct key past the global budget: %d, want 200", code)
	}
	// Parallel correct keys from one address beside parallel wrong ones
	// from it: the global budget never refuses a check unchecked.
	var wg sync.WaitGroup
	var refused atomic.Int64
	for i := range 20 {
		wg.Go(func() {
			if i%2 == 0 {
				keyRequest(h, "203.0.113.3:4000", "wrong")
			} else if keyRequest(h, "203.0.113.3:4000", "right-key") != 200 {
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if n := refused.Load(); n > 0 {
		t.Errorf("past the global budget, %d of 10 parallel correct keys were refused", n)
	}
}

// Past the limit, parallel wrong guesses from one address are checked at
// most two at a time; the rest are refused without looking at the key.
func TestParallelGuessesPastTheLimitAreNotChecked(t *testing.T) {
	var checked atomic.Int64
	penalty := 200 * time.Millisecond
	h := Middleware(Options{APIKey: "right-key", Penalty: penalty,
		OnAuthFailure: func(_ *http.Request, reason string) {
			if reason == "invalid bearer token" {
				checked.Add(1)
			}
		}}, okHandler())
	const workers, run = 60, time.Second
	deadline := time.Now().Add(run)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := 0; time.Now().Before(deadline); j++ {
				keyRequest(h, "192.0.2.9:4000", fmt.Sprintf("wrong-%d-%d", w, j))
			}
		})
	}
	wg.Wait()
	// 30 under the limit, then 2 per penalty (plus one round of slack).
	limit := int64(30 + 2*(int(run/penalty)+2))
	if n := checked.Load(); n > limit {
		t.Errorf("%d workers checked %d wrong keys in %v, want at most %d", workers, n, run, limit)
	} else {
		t.Logf("%d workers: %d wrong keys checked in %v (limit %d)", workers, n, run, limit)
	}
}
