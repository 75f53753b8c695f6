package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/servagent/servagent/pkg/ratelimit"
)

// Every refusal of the middleware, over real HTTP on loopback, is a JSON
// error body that browsers may not sniff as another type and that no cache
// keeps: the 404 of an unknown path, both 401s and the 429 past the limit.
func TestRefusalsAreUnsniffableJSON(t *testing.T) {
	failures := ratelimit.NewFailures(2, 1000, time.Minute, 2) // the third failure is refused
	srv := httptest.NewServer(Middleware(Options{APIKey: "right-key", BasicUser: "id", BasicPassword: "pw",
		Failures: failures, Penalty: time.Millisecond}, okHandler()))
	defer srv.Close()
	for _, c := range []struct {
		name, path, authz string
		status            int
		code, challenge   string
	}{
		{"unknown path", "/admin", "", 404, "not_found", ""},
		{"no bearer token", "/mcp", "", 401, "unauthorized", `Bearer realm="servagent"`},
		{"wrong Basic", "/mcp/register", BasicHeader("id", "wrong"), 401, "invalid_client", `Basic realm="servagent"`},
		{"past the limit", "/mcp", "Bearer wrong", 429, "too_many_requests", ""},
	} {
		req, err := http.NewRequest("POST", srv.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.authz != "" {
			req.Header.Set("Authorization", c.authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != c.status || err != nil || body["error"] != c.code || body["error_description"] == "" {
			t.Errorf("%s: %d %v (%v), want %d with error %q and a description", c.name, resp.StatusCode, body, err, c.status, c.code)
		}
		if h.Get("Content-Type") != "application/json" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", c.name, h)
		}
		if c.status == 429 && h.Get("Retry-After") != "60" {
			t.Errorf("%s: Retry-After %q", c.name, h.Get("Retry-After"))
		}
		if h.Get("WWW-Authenticate") != c.challenge {
			t.Errorf("%s: WWW-Authenticate %q, want %q", c.name, h.Get("WWW-Authenticate"), c.challenge)
		}
	}
}
