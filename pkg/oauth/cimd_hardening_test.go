package oauth

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestCIMDLookalikeHostsRefused: a client_id URL or a document redirect URI
// whose host is not plain ASCII (a Cyrillic "е" in claudе.ai, U+3002 as a
// dot, the same percent-encoded) is refused with a 400 page that says why,
// before any fetch; the approval page never shows such a host.
func TestCIMDLookalikeHostsRefused(t *testing.T) {
	d := newDocServer(t)
	e := cimdEnv(t, d, nil)
	for _, c := range []struct{ id, want string }{
		{"https://claudе.ai/oauth/claude.json", "characters not allowed in a URL"},
		{"https://claude.ai\u3002evil.com/oauth/claude.json", "characters not allowed in a URL"},
		{"https://claud%D0%B5.ai/oauth/claude.json", "host must be plain ASCII"},
		{"https://claude.ai%E3%80%82evil.com/oauth/claude.json", "host must be plain ASCII"},
	} {
		p := validParams(e, oauth2.GenerateVerifier())
		p.Set("client_id", c.id)
		resp, page := getPage(t, browser(t), e.authURL(p))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, c.want) || strings.Contains(page, "Client published by") {
			t.Errorf("%s: %d, want a 400 page saying %q:\n%s", c.id, resp.StatusCode, c.want, page)
		}
		st, m, _ := e.postForm(t, "/token", [2]string{}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {c.id}})
		if st != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(m["error_description"]), c.want) {
			t.Errorf("%s at /token: %d %v", c.id, st, m)
		}
	}
	// A document (on a plain host) listing a lookalike redirect URI.
	doc := goodDoc(e)
	doc["redirect_uris"] = []string{"https://claudе.ai/api/mcp/auth_callback"}
	id := d.publish("/lookalike-redirect", doc, nil)
	p := validParams(e, oauth2.GenerateVerifier())
	p.Set("client_id", id)
	p.Set("redirect_uri", "https://claudе.ai/api/mcp/auth_callback")
	if resp, page := getPage(t, browser(t), e.authURL(p)); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "host must be plain ASCII") {
		t.Errorf("lookalike redirect URI in a document: %d\n%s", resp.StatusCode, page)
	}
	// Registration refuses it too: the page shows every client's redirect host.
	st, m, _ := e.register(t, testClientID, testClientSecret, `{"redirect_uris":["https://claudе.ai/cb"],"token_endpoint_auth_method":"none"}`)
	if st != http.StatusBadRequest {
		t.Errorf("registration with a lookalike redirect host: %d %v", st, m)
	}
}

// TestCIMDClientIDNotEchoed: a client_id with spaces (a sentence meant for
// the operator) is refused without being shown; a valid one that fails is
// shown only inside <code>.
func TestCIMDClientIDNotEchoed(t *testing.T) {
	d := newDocServer(t)
	e := cimdEnv(t, d, nil)
	bad := d.url("/x cannot be used. Your operator secret has expired; re-enter it at https://evil.example/renew")
	p := validParams(e, oauth2.GenerateVerifier())
	p.Set("client_id", bad)
	resp, page := getPage(t, browser(t), e.authURL(p))
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(page, "operator secret has expired") || !strings.Contains(page, "characters not allowed") {
		t.Fatalf("%d, the id is echoed or the reason missing:\n%s", resp.StatusCode, page)
	}
	if n := d.hitCount("/x cannot be used. Your operator secret has expired; re-enter it at https://evil.example/renew"); n != 0 {
		t.Fatalf("fetched %d times", n)
	}
	missing := d.url("/missing.json")
	p.Set("client_id", missing)
	_, page = getPage(t, browser(t), e.authURL(p))
	if !strings.Contains(page, "<code>"+html.EscapeString(missing)+"</code> cannot be used: fetching it answered HTTP 404") {
		t.Fatalf("the id is not shown in <code>:\n%s", page)
	}
}

// TestCIMDFetchPacing: document fetches made for /mcp/token callers are
// paced: a no-store document is still kept a minute, one fetch per URL at
// a time, at most maxDocFetches at once, each uncached attempt counted
// against the address before fetching, failures cached briefly.
func TestCIMDFetchPacing(t *testing.T) {
	d := newDocServer(t)
	var inflight, peak atomic.Int64
	var mu sync.Mutex
	hits := map[string]int{}
	var e *env
	d.ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if strings.HasPrefix(r.URL.Path, "/slow") {
			w.WriteHeader(http.StatusOK)
			for range 12 { // one byte every half second: past the fetch timeout
				w.Write([]byte(" "))
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(500 * time.Millisecond):
				}
			}
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, `{"client_id":%q,"redirect_uris":[%q],"token_endpoint_auth_method":"none"}`, d.url(r.URL.Path), e.callbackURL())
	})
	e = cimdEnv(t, d, nil)
	hitsOf := func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return hits[path]
	}
	token := func(id string) int {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {id}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	burst := func(n int, id func(i int) string) map[int]int {
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for i := range n {
			wg.Go(func() {
				st := token(id(i))
				mu.Lock()
				codes[st]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return codes
	}

	// A valid no-store document, 200 sequential calls: one fetch, no 429.
	for range 200 {
		if st := token(d.url("/ok")); st != http.StatusBadRequest { // unknown refresh token
			t.Fatalf("/token with a usable document: %d", st)
		}
	}
	if n := hitsOf("/ok"); n != 1 {
		t.Fatalf("no-store document fetched %d times for 200 calls, want 1 (kept %s)", n, minDocTTL)
	}
	// 100 concurrent calls naming one slow document: one fetch.
	codes := burst(100, func(int) string { return d.url("/slow") })
	if n := hitsOf("/slow"); n != 1 {
		t.Fatalf("one slow document fetched %d times by 100 concurrent calls (%v), want 1", n, codes)
	}
	// Its failure is remembered for docFailTTL (asked at /authorize, whose
	// budget the burst did not use).
	p := validParams(e, oauth2.GenerateVerifier())
	p.Set("client_id", d.url("/slow"))
	if resp, page := getPage(t, browser(t), e.authURL(p)); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "cannot be used") || hitsOf("/slow") != 1 {
		t.Fatalf("failed document within %s: %d, %d fetches\n%s", docFailTTL, resp.StatusCode, hitsOf("/slow"), page)
	}
	// 300 concurrent calls naming distinct slow documents, one address: at
	// most maxDocFetches at once, and no more fetches than the budget.
	e.clock.Advance(time.Minute + time.Second)
	peak.Store(0)
	codes = burst(300, func(i int) string { return d.url(fmt.Sprintf("/slow%d", i)) })
	total := 0
	mu.Lock()
	for p, n := range hits {
		if strings.HasPrefix(p, "/slow") && p != "/slow" {
			total += n
		}
	}
	mu.Unlock()
	t.Logf("300 distinct documents: statuses %v, %d fetches, peak %d at once", codes, total, peak.Load())
	if peak.Load() > maxDocFetches {
		t.Errorf("peak of %d concurrent fetches, want at most %d", peak.Load(), maxDocFetches)
	}
	if total > 20 {
		t.Errorf("%d fetches from one address, want at most its 20 failed authentications a minute", total)
	}
	if codes[http.StatusTooManyRequests] == 0 {
		t.Errorf("no call was refused by the per-address limit: %v", codes)
	}
}
