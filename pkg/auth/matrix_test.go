package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
)

func TestLookupMostSpecificFirst(t *testing.T) {
	cases := map[string][]Method{
		"/healthz":      {Public},
		"/mcp":          {APIKey, OAuth},
		"/mcp/register": {Basic},
		"/mcp/token":    {Public},
		"/mcp/.well-known/oauth-authorization-server": {Public},
		"/.well-known/oauth-protected-resource/mcp":   {Public},
		"/sse":       {APIKey},
		"/messages/": {APIKey},
		"/upload":    {APIKey},
	}
	for path, want := range cases {
		r := Lookup(path)
		if r == nil || len(r.Methods) != len(want) {
			t.Errorf("%s: %+v, want %v", path, r, want)
			continue
		}
		for i := range want {
			if r.Methods[i] != want[i] {
				t.Errorf("%s: %v, want %v", path, r.Methods, want)
			}
		}
	}
	for _, p := range []string{"/", "/mcp/other", "/uploads", "/ssex", "/admin"} {
		if Lookup(p) != nil {
			t.Errorf("%s should match no rule (denied)", p)
		}
	}
}

func TestMiddlewareOAuthTokens(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Method", string(MethodFrom(r.Context())))
	})
	verify := func(_ context.Context, tok string) (*sdkauth.TokenInfo, error) {
		switch tok {
		case "good":
			return &sdkauth.TokenInfo{UserID: "c1", Expiration: time.Now().Add(time.Hour)}, nil
		case "expired":
			return &sdkauth.TokenInfo{UserID: "c1", Expiration: time.Now().Add(-time.Minute)}, nil
		}
		return nil, sdkauth.ErrInvalidToken
	}
	h := Middleware(Options{APIKey: "k", OAuth: verify, ResourceMetadata: "https://x/mcp/.well-known/oauth-protected-resource", Scopes: []string{"mcp"}}, ok)
	for _, c := range []struct {
		path, tok string
		code      int
		method    string
	}{
		{"/mcp", "good", 200, "oauth"},
		{"/mcp", "k", 200, "api_key"},
		{"/mcp", "expired", 401, ""},
		{"/mcp", "bad", 401, ""},
		{"/upload", "good", 401, ""}, // OAuth tokens are not accepted outside /mcp
		{"/sse", "good", 401, ""},
		{"/upload", "k", 200, "api_key"},
	} {
		req := httptest.NewRequest("POST", c.path, nil)
		req.Header.Set("Authorization", "Bearer "+c.tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.code || rec.Header().Get("X-Method") != c.method {
			t.Errorf("%s with %s: %d %q, want %d %q", c.path, c.tok, rec.Code, rec.Header().Get("X-Method"), c.code, c.method)
		}
		if rec.Code == 401 && c.path == "/mcp" {
			want := `Bearer resource_metadata="https://x/mcp/.well-known/oauth-protected-resource", scope="mcp"`
			if got := rec.Header().Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
		}
	}
}

// A token store that fails is a 500 for the client, and the reason reaches
// the operator's log.
func TestMiddlewareSaysWhyTokenVerificationFailed(t *testing.T) {
	var logged string
	h := Middleware(Options{APIKey: "k", OnAuthFailure: func(_ *http.Request, reason string) { logged = reason },
		OAuth: func(context.Context, string) (*sdkauth.TokenInfo, error) {
			return nil, errors.New("database is locked")
		}},
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("served") }))
	req := httptest.NewRequest("POST", "/mcp", nil)
	req.Header.Set("Authorization", "Bearer some-token")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "locked") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logged, "database is locked") {
		t.Fatalf("logged reason %q", logged)
	}
}
