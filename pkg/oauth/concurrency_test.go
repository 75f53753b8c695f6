package oauth

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// Parallel use of one refresh token: exactly one wins, and since the others
// look like reuse of a rotated token, the family ends up revoked.
func TestConcurrentRefreshSingleWinner(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.staticConfig()
	tok := e.tokenFor(t, cfg)
	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _ := e.operatorRefresh(t, tok.RefreshToken)
			statuses[i] = st
		}()
	}
	wg.Wait()
	ok := 0
	for _, st := range statuses {
		switch st {
		case http.StatusOK:
			ok++
		case http.StatusBadRequest:
		default:
			t.Fatalf("status %d", st)
		}
	}
	if ok != 1 {
		t.Fatalf("%d parallel refreshes succeeded, want 1 (%v)", ok, statuses)
	}
}

// Parallel exchanges of one code: at most one gets tokens.
func TestConcurrentCodeExchange(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.staticConfig()
	v := oauth2.GenerateVerifier()
	code := e.codeFor(t, cfg, v)
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []string
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(v))
			if err == nil {
				mu.Lock()
				won = append(won, tok.AccessToken)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(won) > 1 {
		t.Fatalf("%d exchanges of one code succeeded", len(won))
	}
	// Whoever won had its tokens revoked by the replays.
	for _, a := range won {
		e.mustNotVerify(t, a)
	}
}

func TestWALAndBusyTimeout(t *testing.T) {
	e := newEnv(t, nil)
	var mode string
	if err := e.srv.db.Raw("PRAGMA journal_mode").Scan(&mode).Error; err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q", mode)
	}
	var timeout int
	if err := e.srv.db.Raw("PRAGMA busy_timeout").Scan(&timeout).Error; err != nil {
		t.Fatal(err)
	}
	if timeout != 5000 {
		t.Fatalf("busy_timeout = %d", timeout)
	}
}

func TestNoRefreshTokenWithoutThatGrant(t *testing.T) {
	e := newEnv(t, nil)
	st, m, _ := e.register(t, testClientID, testClientSecret, `{"redirect_uris":["http://127.0.0.1/callback"],"token_endpoint_auth_method":"client_secret_post"}`)
	if st != http.StatusCreated {
		t.Fatalf("%d %v", st, m)
	}
	cfg := e.config(m["client_id"].(string), m["client_secret"].(string), oauth2.AuthStyleInParams)
	tok := e.tokenFor(t, cfg)
	if tok.RefreshToken != "" {
		t.Fatal("refresh token issued to a client registered only for authorization_code")
	}
	e.mustVerify(t, tok.AccessToken)
	st, m, _ = e.postForm(t, "/token", [2]string{}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret}})
	if st != http.StatusBadRequest || m["error"] != "unauthorized_client" {
		t.Fatalf("%d %v", st, m)
	}
}

func TestClientAuthFailuresThrottled(t *testing.T) {
	e := newEnv(t, nil)
	for range 20 {
		st, _, _ := e.postForm(t, "/token", [2]string{testClientID, "wrong"}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}})
		if st != http.StatusUnauthorized {
			t.Fatalf("status %d", st)
		}
	}
	st, _, h := e.postForm(t, "/token", [2]string{testClientID, "wrong"}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}})
	if st != http.StatusTooManyRequests || h.Get("Retry-After") != "60" {
		t.Fatalf("wrong secret after 20 failures: %d, Retry-After %q", st, h.Get("Retry-After"))
	}
	// The correct secret is never refused by the limiter (issue 8, item 3).
	st, _ = e.operatorRefresh(t, "x")
	if st != http.StatusBadRequest {
		t.Fatalf("correct secret after 20 failures: %d", st)
	}
	e.clock.Advance(time.Minute + time.Second)
	st, _, _ = e.postForm(t, "/token", [2]string{testClientID, "wrong"}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}})
	if st != http.StatusUnauthorized {
		t.Fatalf("wrong secret after a minute: %d", st)
	}
}

func TestRedirectKeepsClientQuery(t *testing.T) {
	e := newEnv(t, nil)
	st, m, _ := e.register(t, testClientID, testClientSecret, `{"redirect_uris":["http://127.0.0.1/callback?tenant=a%20b&z=1"],"grant_types":["authorization_code","refresh_token"]}`)
	if st != http.StatusCreated {
		t.Fatalf("%d %v", st, m)
	}
	cfg := e.config(m["client_id"].(string), m["client_secret"].(string), oauth2.AuthStyleInHeader)
	cfg.RedirectURL = e.callback.URL + "/callback?tenant=a%20b&z=1"
	v := oauth2.GenerateVerifier()
	q := e.approve(t, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	if q.Get("tenant") != "a b" || q.Get("z") != "1" || q.Get("code") == "" || q.Get("state") != "s" {
		t.Fatalf("callback query %v", q)
	}
	if _, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(v)); err != nil {
		t.Fatal(err)
	}
}
