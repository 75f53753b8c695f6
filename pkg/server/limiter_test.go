package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/servagent/servagent/pkg/logtest"
	"github.com/servagent/servagent/pkg/oauth"
	"github.com/servagent/servagent/pkg/server"
	"github.com/servagent/servagent/pkg/server/servertest"
)

// bearerPost sends an MCP initialize to path with the given key and extra
// headers and returns the status code.
func bearerPost(t *testing.T, url, key string, hdr map[string]string) int {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+key)
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// failUntilLimited sends wrong keys until the server answers 429 and
// returns how many it took.
func failUntilLimited(t *testing.T, url string, hdr map[string]string) int {
	t.Helper()
	for i := 1; i <= 40; i++ {
		if code := bearerPost(t, url, "wrong-key", hdr); code == 429 {
			return i
		} else if code != 401 {
			t.Fatalf("wrong key: %d", code)
		}
	}
	t.Fatal("40 wrong keys and still no 429")
	return 0
}

// A correct API key is never refused by the failed-auth limiter, on any
// endpoint it opens, while wrong keys from the same address stay limited.
func TestLimiterNeverRefusesTheCorrectKey(t *testing.T) {
	inst := start(t, nil)
	msg := sseMessageEndpoint(t, inst)
	if n := failUntilLimited(t, inst.URL+"/mcp", nil); n != 31 {
		t.Errorf("429 after %d wrong keys, want 31 (30 a minute)", n)
	}
	if code := bearerPost(t, inst.URL+"/mcp", inst.Key, nil); code != 200 {
		t.Errorf("correct key on /mcp after the limit: %d", code)
	}
	if resp := uploadReq(t, inst.URL, inst.Key, [][2]string{{"path", "after-limit.txt"}}, strings.NewReader("x")); resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Errorf("correct key on /upload after the limit: %d %s", resp.StatusCode, b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", inst.URL+"/sse", nil)
	req.Header.Set("Authorization", "Bearer "+inst.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("correct key on /sse after the limit: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", inst.URL+msg, strings.NewReader(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	req.Header.Set("Authorization", "Bearer "+inst.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		t.Errorf("correct key on /messages/ after the limit: %d", resp.StatusCode)
	}
	for _, path := range []string{"/mcp", "/upload", "/sse", msg} {
		if code := bearerPost(t, inst.URL+path, "wrong-key", nil); code != 429 {
			t.Errorf("wrong key on %s after the limit: %d, want 429", path, code)
		}
	}
}

// Behind a trusted proxy the limiter counts the forwarded client; from any
// other peer X-Forwarded-For is ignored.
func TestLimiterKeysOnForwardedClientOnlyFromTrustedProxy(t *testing.T) {
	t.Run("trusted loopback proxy in SERVAGENT_TRUSTED_PROXIES", func(t *testing.T) {
		inst := start(t, map[string]string{"SERVAGENT_ALLOWED_HOSTS": "mcp.example.com", "SERVAGENT_TRUSTED_PROXIES": "127.0.0.0/8"})
		viaProxy := func(xff string) map[string]string {
			return map[string]string{"Host": "mcp.example.com", "X-Forwarded-For": xff}
		}
		bad := viaProxy("203.0.113.7")
		failUntilLimited(t, inst.URL+"/mcp", bad)
		// Another client behind the same proxy is not locked out, even one
		// that prepends the limited address to its own header.
		if code := bearerPost(t, inst.URL+"/mcp", "wrong-key", viaProxy("203.0.113.8")); code != 401 {
			t.Errorf("another client behind the proxy: %d, want 401", code)
		}
		if code := bearerPost(t, inst.URL+"/mcp", "wrong-key", viaProxy("203.0.113.7, 203.0.113.9")); code != 401 {
			t.Errorf("client that forged a left-hand entry: %d, want 401 (keyed on its own address)", code)
		}
		// The limited client gets 429 however it spells the chain: the
		// right-most untrusted hop is what counts, trusted hops are skipped.
		if code := bearerPost(t, inst.URL+"/mcp", "wrong-key", viaProxy("198.51.100.1, 203.0.113.7, 127.0.0.1")); code != 429 {
			t.Errorf("limited client through two proxies: %d, want 429", code)
		}
	})
	t.Run("explicit SERVAGENT_TRUSTED_PROXIES that excludes the peer", func(t *testing.T) {
		inst := start(t, map[string]string{"SERVAGENT_ALLOWED_HOSTS": "mcp.example.com", "SERVAGENT_TRUSTED_PROXIES": "10.0.0.0/8"})
		failUntilLimited(t, inst.URL+"/mcp", map[string]string{"Host": "mcp.example.com", "X-Forwarded-For": "203.0.113.7"})
		if code := bearerPost(t, inst.URL+"/mcp", "wrong-key", map[string]string{"Host": "mcp.example.com", "X-Forwarded-For": "203.0.113.8"}); code != 429 {
			t.Errorf("untrusted peer changed its X-Forwarded-For and escaped the limit: %d", code)
		}
	})
	t.Run("no proxy configured", func(t *testing.T) {
		inst := start(t, nil)
		failUntilLimited(t, inst.URL+"/mcp", map[string]string{"X-Forwarded-For": "203.0.113.7"})
		if code := bearerPost(t, inst.URL+"/mcp", "wrong-key", map[string]string{"X-Forwarded-For": "203.0.113.8"}); code != 429 {
			t.Errorf("a forged X-Forwarded-For escaped the limit: %d", code)
		}
	})
}

// startStaticOAuth runs the server with the authorization server whose
// static operator client is clientID (auto approval, a loopback callback).
func startStaticOAuth(t *testing.T, clientID string, logw io.Writer) *servertest.Instance {
	t.Helper()
	return startOAuth(t, staticOAuth{clientID: clientID, approval: "auto", log: logw})
}

// staticOAuth is the authorization server startOAuth runs beside the MCP
// endpoint: its static operator client (secret opClientSecret, a loopback
// callback allowed), how grants are approved, and the server's setup.
type staticOAuth struct {
	clientID       string
	approval       string // "auto" or "operator"
	approvalSecret string // the operator's approval secret, with "operator"
	// allowHost sets SERVAGENT_ALLOWED_HOSTS to the listener's address.
	allowHost bool
	log       io.Writer // the server's log (nil: discarded)
}

func startOAuth(t *testing.T, s staticOAuth) *servertest.Instance {
	t.Helper()
	ln := servertest.Listen(t)
	env := map[string]string{
		"SERVAGENT_OAUTH_ISSUER_URL":    "http://" + ln.Addr().String() + "/mcp",
		"SERVAGENT_OAUTH_CLIENT_ID":     s.clientID,
		"SERVAGENT_OAUTH_CLIENT_SECRET": opClientSecret,
		"SERVAGENT_OAUTH_APPROVAL":      s.approval,
	}
	if s.allowHost {
		env["SERVAGENT_ALLOWED_HOSTS"] = ln.Addr().String()
	}
	cfg := servertest.Config(t, env)
	o, err := oauth.New(context.Background(), oauth.Options{
		IssuerURL: cfg.OAuthIssuerURL, ClientID: cfg.OAuthClientID, ClientSecret: cfg.OAuthClientSecret,
		DBPath: filepath.Join(t.TempDir(), "oauth.db"), Approval: s.approval, ApprovalSecret: s.approvalSecret, ExtraRedirectURIs: []string{"http://127.0.0.1:9/cb"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	opts := server.Options{Config: cfg, OAuth: o}
	if s.log != nil {
		opts.Logger = slog.New(slog.NewTextHandler(s.log, nil))
	}
	return servertest.StartOn(t, opts, ln)
}

// After many failed client authentications at /mcp/token, a valid refresh
// from the same address still succeeds; wrong secrets stay limited.
func TestTokenEndpointLimiterNeverRefusesTheCorrectClient(t *testing.T) {
	inst := startStaticOAuth(t, opClientID, nil)
	tok := clientToken(t, inst.URL, opClientID, opClientSecret)
	post := func(secret string) int {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {opClientID}, "client_secret": {secret}}
		resp, err := http.PostForm(inst.URL+"/mcp/token", form)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			// Rotation: the next refresh uses the new token.
			var m struct {
				RefreshToken string `json:"refresh_token"`
			}
			if err := json.Unmarshal(b.Bytes(), &m); err == nil && m.RefreshToken != "" {
				tok.RefreshToken = m.RefreshToken
			}
		}
		return resp.StatusCode
	}
	limited := 0
	for i := 0; i < 25 && limited == 0; i++ {
		if code := post("wrong-secret"); code == 429 {
			limited = i + 1
		}
	}
	if limited == 0 {
		t.Fatal("25 wrong client secrets and no 429")
	}
	if code := post(opClientSecret); code != 200 {
		t.Errorf("valid refresh after %d failures: %d, want 200", limited, code)
	}
	if code := post("wrong-secret"); code != 429 {
		t.Errorf("wrong secret after the limit: %d, want 429", code)
	}
}

// Owner ids carry the authentication method: an OAuth client whose id is
// "api-key" (the id API-key sessions used to have) cannot drive an API-key
// session, nor the API key an OAuth session.
func TestOwnerIDsCarryTheAuthMethod(t *testing.T) {
	inst := startStaticOAuth(t, "api-key", nil)
	tok := clientToken(t, inst.URL, "api-key", opClientSecret)
	keySession := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	oauthSession := servertest.Connect(t, inst.URL, tok.AccessToken, "streamable", nil)
	for _, c := range []struct {
		name, session, cred string
	}{
		{"OAuth token on an API-key session", keySession.ID(), tok.AccessToken},
		{"API key on an OAuth session", oauthSession.ID(), inst.Key},
	} {
		req, _ := http.NewRequest("POST", inst.URL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", c.session)
		req.Header.Set("MCP-Protocol-Version", "2025-06-18")
		req.Header.Set("Authorization", "Bearer "+c.cred)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("%s accepted: %d %.200s", c.name, resp.StatusCode, b)
		}
	}
	// Each credential still drives its own session.
	if res := call(t, oauthSession, "execute_command", map[string]any{"command": "echo own"}); res.IsError {
		t.Errorf("OAuth session: %s", text(res))
	}
}

// A megabyte of /messages/ path refused before authentication leaves a
// few hundred bytes of log, not a megabyte.
func TestRefusedRequestsLogBoundedValues(t *testing.T) {
	var logs logtest.Buffer
	cfg := servertest.Config(t, nil)
	inst := servertest.Start(t, server.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	long := "/messages/" + strings.Repeat("a", 1000000)
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("POST", inst.URL+long, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if !strings.Contains(logs.String(), "authentication failed") {
		t.Fatalf("no refusal logged: %q", logs.String())
	}
	if n := logs.Len(); n > 3*1024 {
		t.Fatalf("3 refused 1 MB paths wrote %d bytes of log", n)
	}
	if !strings.Contains(logs.String(), fmt.Sprintf("(%d bytes)", len(long))) {
		t.Errorf("the truncated path does not say its length: %.500s", logs.String())
	}
}
