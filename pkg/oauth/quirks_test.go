package oauth

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// Connector quirks seen in the field: each spelling must give the same
// grant as the canonical request.

// exchange runs the front channel with params p and the code exchange with
// extra token parameters, returning the token response.
func (e *env) exchange(t *testing.T, p url.Values, verifier string, extra url.Values) (int, map[string]any) {
	t.Helper()
	q := e.approve(t, e.authURL(p))
	if q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
	f := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "code_verifier": {verifier}, "redirect_uri": {p.Get("redirect_uri")}}
	for k, v := range extra {
		f[k] = v
	}
	st, m, _ := e.postForm(t, "/token", staticCreds, f)
	return st, m
}

func TestScopeQuirks(t *testing.T) {
	e := newEnv(t, nil)
	for name, scope := range map[string]*string{
		"absent":                     nil,
		"empty":                      ptr(""),
		"surrounding spaces":         ptr("  mcp  "),
		"offline_access alone":       ptr("offline_access"),
		"offline_access and mcp":     ptr("mcp offline_access"),
		"repeated, tabs and newline": ptr("mcp\tmcp\n"),
	} {
		t.Run(name, func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			p := validParams(e, v)
			if scope == nil {
				p.Del("scope")
			} else {
				p.Set("scope", *scope)
			}
			st, m := e.exchange(t, p, v, nil)
			if st != http.StatusOK || m["scope"] != "mcp" || m["refresh_token"] == nil {
				t.Fatalf("%d %v, want scope mcp with a refresh token", st, m)
			}
			// The refresh accepts the same spellings.
			f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}}
			if scope != nil {
				f.Set("scope", *scope)
			}
			st, m, _ = e.postForm(t, "/token", staticCreds, f)
			if st != http.StatusOK || m["scope"] != "mcp" {
				t.Fatalf("refresh: %d %v", st, m)
			}
		})
	}
	// Registration accepts offline_access too.
	st, m, _ := e.register(t, testClientID, testClientSecret, `{"redirect_uris":["https://a.example/cb"],"scope":" mcp offline_access "}`)
	if st != http.StatusCreated || m["scope"] != "mcp" {
		t.Fatalf("register: %d %v", st, m)
	}
}

func ptr[T any](v T) *T { return &v }

func TestResourceQuirks(t *testing.T) {
	e := newEnv(t, nil)
	u, _ := url.Parse(e.issuer)
	for _, res := range []string{
		e.issuer,
		e.issuer + "/",
		"HTTP://" + u.Host + "/mcp",
		"http://" + strings.ToUpper(u.Hostname()) + ":" + u.Port() + "/mcp/",
	} {
		t.Run(res, func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			p := validParams(e, v)
			p.Set("resource", res)
			st, m := e.exchange(t, p, v, url.Values{"resource": {res}})
			if st != http.StatusOK {
				t.Fatalf("%d %v", st, m)
			}
			e.mustVerify(t, m["access_token"].(string))
		})
	}
	for _, res := range []string{e.issuer + "//", e.issuer + "x", "http://" + u.Host + "/MCP", "https://" + u.Host + "/mcp"} {
		v := oauth2.GenerateVerifier()
		p := validParams(e, v)
		p.Set("resource", res)
		resp, _ := getPage(t, browser(t), e.authURL(p))
		if q := e.follow(t, resp.Header.Get("Location")); q.Get("error") != "invalid_target" {
			t.Errorf("resource %q: %v, want invalid_target", res, q)
		}
	}
}

func TestSameResource(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"https://h.example/mcp", "https://h.example/mcp", true},
		{"https://h.example:443/mcp", "https://h.example/mcp", true},
		{"https://h.example:443/mcp/", "https://h.example/mcp", true},
		{"HTTPS://H.Example/mcp", "https://h.example/mcp", true},
		{"http://127.0.0.1:80/mcp", "http://127.0.0.1/mcp", true},
		{"https://h.example:8443/mcp", "https://h.example/mcp", false},
		{"http://h.example:443/mcp", "http://h.example/mcp", false},
		{"https://h.example/mcp?x=1", "https://h.example/mcp", false},
		{"https://h.example/other/mcp", "https://h.example/mcp", false},
		{"https://u@h.example/mcp", "https://h.example/mcp", false},
	} {
		if got := sameResource(c.a, c.b); got != c.want {
			t.Errorf("sameResource(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestRefreshReuseInterval: within the interval the just-rotated refresh
// token gets the same new pair (sequentially and concurrently); after it,
// or once the new pair has itself been used, reuse revokes the family.
func TestRefreshReuseInterval(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RefreshReuseInterval = 30 * time.Second })
	cfg := e.staticConfig()
	refresh := func(rt string) (int, map[string]any) { return e.operatorRefresh(t, rt) }

	t.Run("sequential retry", func(t *testing.T) {
		tok := e.tokenFor(t, cfg)
		st, a := refresh(tok.RefreshToken)
		if st != http.StatusOK {
			t.Fatalf("%d %v", st, a)
		}
		e.clock.Advance(20 * time.Second)
		st, b := refresh(tok.RefreshToken)
		if st != http.StatusOK || b["refresh_token"] != a["refresh_token"] || b["access_token"] != a["access_token"] {
			t.Fatalf("retry within 30 s: %d %v, want the same pair as %v", st, b, a)
		}
		e.mustVerify(t, a["access_token"].(string))
		// Past the interval the strict rule applies.
		e.clock.Advance(11 * time.Second)
		if st, m := refresh(tok.RefreshToken); st != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("reuse after 31 s: %d %v", st, m)
		}
		e.mustNotVerify(t, a["access_token"].(string))
	})
	t.Run("concurrent retries", func(t *testing.T) {
		tok := e.tokenFor(t, cfg)
		const n = 8
		var wg sync.WaitGroup
		got := make([]map[string]any, n)
		codes := make([]int, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], got[i] = refresh(tok.RefreshToken)
			}()
		}
		wg.Wait()
		for i := range n {
			if codes[i] != http.StatusOK || got[i]["refresh_token"] != got[0]["refresh_token"] {
				t.Fatalf("call %d: %d %v, want the pair %v", i, codes[i], got[i], got[0])
			}
		}
		e.mustVerify(t, got[0]["access_token"].(string))
	})
	t.Run("new pair already used", func(t *testing.T) {
		tok := e.tokenFor(t, cfg)
		_, a := refresh(tok.RefreshToken)
		st, b := refresh(a["refresh_token"].(string))
		if st != http.StatusOK {
			t.Fatalf("%d %v", st, b)
		}
		// The client moved on: the first token again is a theft signal.
		if st, m := refresh(tok.RefreshToken); st != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("reuse after the new pair was used: %d %v", st, m)
		}
		e.mustNotVerify(t, b["access_token"].(string))
	})
	t.Run("strict when 0", func(t *testing.T) {
		e := newEnv(t, nil)
		tok := e.tokenFor(t, e.staticConfig())
		st, a := e.operatorRefresh(t, tok.RefreshToken)
		if st != http.StatusOK {
			t.Fatal(st)
		}
		st, m := e.operatorRefresh(t, tok.RefreshToken)
		if st != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("reuse with interval 0: %d %v", st, m)
		}
		e.mustNotVerify(t, a["access_token"].(string))
	})
}
