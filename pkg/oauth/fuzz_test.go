package oauth

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fuzzServer(f *testing.F) (*Server, *http.ServeMux) {
	s, err := New(context.Background(), Options{
		IssuerURL:      "https://example.com/mcp",
		ClientID:       testClientID,
		ClientSecret:   testClientSecret,
		DBPath:         filepath.Join(f.TempDir(), "db", "oauth.db"),
		ApprovalSecret: testApprovalSecret,
		// URL client ids would send fuzzed hosts to DNS; the document
		// parser has its own fuzz target.
		DisableCIMD: true,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	mux := http.NewServeMux()
	s.Register(mux)
	return s, mux
}

// FuzzTokenEndpoint throws arbitrary bodies and credentials at /mcp/token
// and /mcp/revoke: they must never panic nor answer 5xx.
func FuzzTokenEndpoint(f *testing.F) {
	_, mux := fuzzServer(f)
	seeds := []struct{ body, user, pass, ct string }{
		{"grant_type=authorization_code&code=sac_x&code_verifier=" + strings.Repeat("a", 43) + "&redirect_uri=https%3A%2F%2Fclaude.ai%2Fapi%2Fmcp%2Fauth_callback", testClientID, testClientSecret, "application/x-www-form-urlencoded"},
		{"grant_type=refresh_token&refresh_token=srt_x&client_id=" + testClientID + "&client_secret=" + testClientSecret, "", "", "application/x-www-form-urlencoded"},
		{"grant_type=refresh_token&refresh_token=x&scope=mcp+admin&resource=https%3A%2F%2Fexample.com%2Fmcp", testClientID, testClientSecret, "application/x-www-form-urlencoded; charset=utf-8"},
		{"grant_type=client_credentials", testClientID, "wrong", "application/x-www-form-urlencoded"},
		{"grant_type=a&grant_type=b", "", "", "application/x-www-form-urlencoded"},
		{"%zz=1&;;&&==", "%zz", "%", "application/x-www-form-urlencoded"},
		{"token=sat_x&token_type_hint=access_token", testClientID, testClientSecret, "application/x-www-form-urlencoded"},
		{`{"grant_type":"refresh_token"}`, "", "", "application/json"},
		{"", "", "", ""},
		{"code=" + strings.Repeat("x", 600), testClientID, testClientSecret, "application/x-www-form-urlencoded"},
	}
	for _, s := range seeds {
		f.Add(s.body, s.user, s.pass, s.ct)
	}
	f.Fuzz(func(t *testing.T, body, user, pass, ct string) {
		for _, path := range []string{"/mcp/token", "/mcp/revoke"} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			if user != "" || pass != "" {
				req.SetBasicAuth(user, pass)
			}
			// Spread inputs over 5000 addresses so the per-address throttle
			// of failed client logins does not hide most of the handler.
			h := fnv.New32a()
			h.Write([]byte(body + user + pass))
			n := h.Sum32() % 5000
			req.RemoteAddr = fmt.Sprintf("10.0.%d.%d:1234", n/250, n%250)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s: status %d: %s", path, rec.Code, rec.Body.String())
			}
			if rec.Code == http.StatusOK && path == "/mcp/token" {
				t.Fatalf("token issued for a fuzzed request: %s", rec.Body.String())
			}
		}
	})
}

// FuzzRegisterEndpoint throws arbitrary JSON at /mcp/register with valid
// operator credentials: it must never panic nor answer 5xx, and whatever
// it accepts must satisfy the validation rules.
func FuzzRegisterEndpoint(f *testing.F) {
	_, mux := fuzzServer(f)
	for _, s := range []string{
		`{"redirect_uris":["https://app.example/cb"],"client_name":"App","grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_post"}`,
		`{"redirect_uris":["http://127.0.0.1:3000/cb"],"token_endpoint_auth_method":"none","scope":"mcp"}`,
		`{"redirect_uris":["com.example.app:/cb"]}`,
		`{"redirect_uris":["javascript:alert(1)"]}`,
		`{"redirect_uris":[1,2]}`,
		`{"redirect_uris":null,"grant_types":{}}`,
		`{"redirect_uris":["https://a.example/cb#f"]}`,
		`{"client_name":"\u202e"}`,
		`[]`, `null`, `""`, `{`, ``,
	} {
		f.Add(s, true)
	}
	f.Add(`{"redirect_uris":["https://a.example/cb"]}`, false)
	f.Fuzz(func(t *testing.T, body string, withAuth bool) {
		req := httptest.NewRequest(http.MethodPost, "/mcp/register", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if withAuth {
			req.SetBasicAuth(testClientID, testClientSecret)
		} else {
			// Failed logins are rate limited per address; keep them away
			// from the authenticated inputs' address.
			req.RemoteAddr = "198.51.100.7:1234"
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		if !withAuth && rec.Code != http.StatusUnauthorized && rec.Code != http.StatusTooManyRequests {
			t.Fatalf("unauthenticated registration answered %d", rec.Code)
		}
		if rec.Code == http.StatusCreated {
			// Re-check what was accepted with the same validator.
			req2 := httptest.NewRequest(http.MethodPost, "/mcp/register", strings.NewReader(body))
			req2.Header.Set("Content-Type", "application/json")
			r, rerr := decodeRegistration(httptest.NewRecorder(), req2)
			if rerr != nil {
				t.Fatalf("accepted, then rejected on re-validation: %v", rerr)
			}
			for _, u := range r.RedirectURIs {
				if err := validateRedirectURI(u); err != nil {
					t.Fatalf("accepted bad redirect URI %q: %v", u, err)
				}
				if strings.HasPrefix(strings.ToLower(u), "javascript:") || strings.Contains(u, "#") {
					t.Fatalf("accepted dangerous redirect URI %q", u)
				}
			}
		}
	})
}

// FuzzClientDocument throws arbitrary documents and caching headers at the
// metadata-document parser: no panic, and what it accepts is a public client
// whose id is the URL and whose redirect URIs pass the registration rules.
func FuzzClientDocument(f *testing.F) {
	const id = "https://app.example/oauth/client.json"
	for _, s := range []string{
		`{"client_id":"` + id + `","client_name":"App","redirect_uris":["https://app.example/cb"],"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none"}`,
		`{"client_id":"` + id + `","redirect_uris":["javascript:alert(1)"]}`,
		`{"client_id":"` + id + `","redirect_uris":["https://a.example/cb"],"client_secret":"x"}`,
		`{"client_id":"` + id + `","redirect_uris":"https://a.example/cb"}`,
		`{"client_id":"https://other.example/c.json","redirect_uris":["https://a.example/cb"]}`,
		`[]`, `null`, `{`, ``, `{"client_id":"` + id + `"} {}`,
	} {
		f.Add(s, "max-age=60", "")
	}
	f.Add(`{}`, "no-store, max-age=99999999999999999999", "Thu, 01 Jan 1970 00:00:00 GMT")
	f.Fuzz(func(t *testing.T, body, cacheControl, expires string) {
		h := http.Header{}
		h.Set("Cache-Control", cacheControl)
		h.Set("Expires", expires)
		if ttl := cacheTTL(h, time.Now()); ttl < 0 || ttl > maxDocTTL {
			t.Fatalf("cacheTTL = %v", ttl)
		}
		c, err := parseClientDocument(id, []byte(body))
		if err != nil {
			var de *docError
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if c.ID != id || c.confidential() || !c.Document || c.AuthMethod != "none" {
			t.Fatalf("accepted %+v", c)
		}
		for _, u := range c.redirectURIs() {
			if err := validateRedirectURI(u); err != nil {
				t.Fatalf("accepted bad redirect URI %q: %v", u, err)
			}
		}
	})
}
