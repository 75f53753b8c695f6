package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/servagent/servagent/pkg/auth"
	"github.com/servagent/servagent/pkg/server/servertest"
)

const (
	opClientID     = "servagent-0123456789abcdef"
	opClientSecret = "operator-secret-value-0123456789"
)

// startWithOAuth runs the real server with the real authorization server
// (auto approval, so a Go client can get a token without a browser).
func startWithOAuth(t *testing.T) (*servertest.Instance, string) {
	t.Helper()
	inst := startStaticOAuth(t, opClientID, nil)
	return inst, oauthToken(t, inst.URL)
}

// oauthToken registers a client with the operator's Basic credentials and
// runs authorization code + PKCE with golang.org/x/oauth2.
func oauthToken(t *testing.T, base string) string {
	t.Helper()
	body := `{"redirect_uris":["http://127.0.0.1:9/cb"],"client_name":"matrix test","grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_post"}`
	req, _ := http.NewRequest("POST", base+"/mcp/register", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(opClientID, opClientSecret)
	resp := send(t, req)
	var reg struct{ ClientID, ClientSecret string }
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	reg.ClientID, _ = m["client_id"].(string)
	reg.ClientSecret, _ = m["client_secret"].(string)
	if resp.StatusCode != 201 || reg.ClientID == "" {
		t.Fatalf("register: %d %s", resp.StatusCode, raw)
	}
	return clientToken(t, base, reg.ClientID, reg.ClientSecret).AccessToken
}

// clientToken runs authorization code + PKCE for a client (auto approval)
// redirecting to http://127.0.0.1:9/cb.
func clientToken(t *testing.T, base, clientID, clientSecret string) *oauth2.Token {
	t.Helper()
	conf := &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, RedirectURL: "http://127.0.0.1:9/cb",
		Endpoint: oauth2.Endpoint{AuthURL: base + "/mcp/authorize", TokenURL: base + "/mcp/token", AuthStyle: oauth2.AuthStyleInParams}, Scopes: []string{"mcp"}}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", base+"/mcp"))
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r2, err := noFollow.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	loc, err := url.Parse(r2.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st-1" {
		t.Fatalf("authorize: %d %q", r2.StatusCode, r2.Header.Get("Location"))
	}
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", base+"/mcp"))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// TestAuthMatrixCellByCell checks every cell of the README's matrix against
// the running server, with OAuth on.
func TestAuthMatrixCellByCell(t *testing.T) {
	inst, token := startWithOAuth(t)
	msg := sseMessageEndpoint(t, inst)
	creds := map[string]string{
		"none":    "",
		"api_key": "Bearer " + inst.Key,
		"oauth":   "Bearer " + token,
		"basic":   auth.BasicHeader(opClientID, opClientSecret),
	}
	initBody := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	regBody := `{"redirect_uris":["http://127.0.0.1:9/cb"],"client_name":"x","token_endpoint_auth_method":"none"}`
	type cell struct{ method, path, ctype, body string }
	rows := []struct {
		cell
		allowed []string
	}{
		{cell{"POST", "/mcp", "application/json", initBody}, []string{"api_key", "oauth"}},
		{cell{"POST", "/mcp/register", "application/json", regBody}, []string{"basic"}},
		{cell{"GET", "/sse", "", ""}, []string{"api_key"}},
		{cell{"POST", msg, "application/json", `{"jsonrpc":"2.0","method":"notifications/initialized"}`}, []string{"api_key"}},
		{cell{"POST", "/upload", "multipart/form-data; boundary=x", "--x--\r\n"}, []string{"api_key"}},
		{cell{"GET", "/download?path=/nonexistent", "", ""}, []string{"api_key"}},
		{cell{"GET", "/mcp/.well-known/oauth-authorization-server", "", ""}, []string{"none", "api_key", "oauth", "basic"}},
		{cell{"GET", "/mcp/.well-known/oauth-protected-resource", "", ""}, []string{"none", "api_key", "oauth", "basic"}},
		{cell{"GET", "/healthz", "", ""}, []string{"none", "api_key", "oauth", "basic"}},
	}
	for _, row := range rows {
		for _, name := range []string{"none", "api_key", "oauth", "basic"} {
			allowed := false
			for _, a := range row.allowed {
				allowed = allowed || a == name
			}
			t.Run(fmt.Sprintf("%s %s with %s", row.method, strings.SplitN(row.path, "?", 2)[0], name), func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, row.method, inst.URL+row.path, strings.NewReader(row.body))
				if row.ctype != "" {
					req.Header.Set("Content-Type", row.ctype)
				}
				req.Header.Set("Accept", "application/json, text/event-stream")
				if creds[name] != "" {
					req.Header.Set("Authorization", creds[name])
				}
				resp := send(t, req)
				denied := resp.StatusCode == 401 || resp.StatusCode == 403
				if allowed && (denied || resp.StatusCode >= 500) {
					b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
					t.Fatalf("allowed credential got %d: %s", resp.StatusCode, b)
				}
				if !allowed && resp.StatusCode != 401 {
					t.Fatalf("forbidden credential got %d", resp.StatusCode)
				}
				if !allowed && row.path == "/mcp" {
					wa := resp.Header.Get("WWW-Authenticate")
					if !strings.Contains(wa, `resource_metadata="`+inst.URL+`/mcp/.well-known/oauth-protected-resource"`) || !strings.Contains(wa, `scope="mcp"`) {
						t.Errorf("WWW-Authenticate = %q", wa)
					}
				}
			})
		}
	}
}

func TestRootOAuthPathsRedirect(t *testing.T) {
	inst, _ := startWithOAuth(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for from, to := range map[string]string{
		"/.well-known/oauth-authorization-server":     "/mcp/.well-known/oauth-authorization-server",
		"/.well-known/oauth-authorization-server/mcp": "/mcp/.well-known/oauth-authorization-server",
		"/.well-known/oauth-protected-resource":       "/mcp/.well-known/oauth-protected-resource",
		"/.well-known/oauth-protected-resource/mcp":   "/mcp/.well-known/oauth-protected-resource",
		"/authorize?client_id=a&state=b":              "/mcp/authorize?client_id=a&state=b",
		"/token":                                      "/mcp/token",
		"/register":                                   "/mcp/register",
		"/revoke":                                     "/mcp/revoke",
	} {
		resp, err := noFollow.Get(inst.URL + from)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 307 || resp.Header.Get("Location") != inst.URL+to {
			t.Errorf("%s: %d → %q, want 307 → %s", from, resp.StatusCode, resp.Header.Get("Location"), inst.URL+to)
		}
	}
}

// TestOAuthTokenDrivesAnMCPSession connects the go-sdk client with an OAuth
// access token and calls a tool; the audit line records the method.
func TestOAuthTokenDrivesAnMCPSession(t *testing.T) {
	inst, token := startWithOAuth(t)
	cs := servertest.Connect(t, inst.URL, token, "streamable", nil)
	res := call(t, cs, "execute_command", map[string]any{"command": "echo via-oauth"})
	if res.IsError || !strings.Contains(text(res), "via-oauth") {
		t.Fatalf("%v %s", res.IsError, text(res))
	}
	// The same session ID cannot be driven with another credential.
	req, _ := http.NewRequest("POST", inst.URL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/list"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", cs.ID())
	req.Header.Set("Authorization", "Bearer "+inst.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Fatalf("an OAuth session accepted a request authenticated with the API key: %d", resp.StatusCode)
	}
}
