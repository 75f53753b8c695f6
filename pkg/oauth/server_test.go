package oauth

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/servagent/servagent/internal/testutil/roottest"
	"github.com/servagent/servagent/pkg/secret"
)

func TestRegister(t *testing.T) {
	e := newEnv(t, nil)
	good := `{"redirect_uris":["https://app.example/cb"],"client_name":"App"}`

	t.Run("without credentials", func(t *testing.T) {
		st, m, h := e.register(t, "", "", good)
		if st != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") || m["error"] != "invalid_client" {
			t.Fatalf("%d %v %v", st, m, h)
		}
	})
	t.Run("wrong credentials", func(t *testing.T) {
		for _, c := range [][2]string{{testClientID, "wrong"}, {"other", testClientSecret}, {testClientID, ""}} {
			st, _, h := e.register(t, c[0], c[1], good)
			if st != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
				t.Fatalf("%v: %d", c, st)
			}
		}
	})
	t.Run("success", func(t *testing.T) {
		st, m, _ := e.register(t, testClientID, testClientSecret, good)
		if st != http.StatusCreated {
			t.Fatalf("%d %v", st, m)
		}
		for _, k := range []string{"client_id", "client_secret", "client_id_issued_at", "redirect_uris", "grant_types", "response_types", "token_endpoint_auth_method"} {
			if _, ok := m[k]; !ok {
				t.Errorf("response lacks %s: %v", k, m)
			}
		}
		if m["token_endpoint_auth_method"] != "client_secret_basic" || m["client_name"] != "App" {
			t.Errorf("defaults: %v", m)
		}
	})
	t.Run("bad bodies", func(t *testing.T) {
		cases := map[string]string{
			"not json":              `redirect_uris=x`,
			"no redirect uris":      `{"client_name":"x"}`,
			"empty redirect uris":   `{"redirect_uris":[]}`,
			"relative uri":          `{"redirect_uris":["/cb"]}`,
			"fragment":              `{"redirect_uris":["https://a.example/cb#x"]}`,
			"http non loopback":     `{"redirect_uris":["http://a.example/cb"]}`,
			"javascript":            `{"redirect_uris":["javascript:alert(1)"]}`,
			"data":                  `{"redirect_uris":["data:text/html,x"]}`,
			"userinfo":              `{"redirect_uris":["https://u:p@a.example/cb"]}`,
			"wrong type":            `{"redirect_uris":"https://a.example/cb"}`,
			"bad grant":             `{"redirect_uris":["https://a.example/cb"],"grant_types":["password"]}`,
			"implicit":              `{"redirect_uris":["https://a.example/cb"],"response_types":["token"]}`,
			"only refresh":          `{"redirect_uris":["https://a.example/cb"],"grant_types":["refresh_token"]}`,
			"bad auth method":       `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`,
			"bad scope":             `{"redirect_uris":["https://a.example/cb"],"scope":"admin"}`,
			"control chars in name": `{"redirect_uris":["https://a.example/cb"],"client_name":"a\u0000b"}`,
			"bidi in name":          `{"redirect_uris":["https://a.example/cb"],"client_name":"a\u202eb"}`,
			"trailing data":         `{"redirect_uris":["https://a.example/cb"]} {}`,
			"too many uris":         `{"redirect_uris":[` + strings.Repeat(`"https://a.example/cb",`, 30) + `"https://a.example/cb"]}`,
			"too large":             `{"redirect_uris":["https://a.example/cb"],"x":"` + strings.Repeat("a", 70000) + `"}`,
			"array":                 `[]`,
			"null":                  `null`,
			"space in uri":          `{"redirect_uris":["https://a.example/c b"]}`,
			"https without host":    `{"redirect_uris":["https:///cb"]}`,
		}
		for name, body := range cases {
			t.Run(name, func(t *testing.T) {
				st, m, _ := e.register(t, testClientID, testClientSecret, body)
				if st != http.StatusBadRequest && st != http.StatusRequestEntityTooLarge {
					t.Fatalf("%d %v", st, m)
				}
				if m["error"] != "invalid_client_metadata" && m["error"] != "invalid_redirect_uri" {
					t.Fatalf("error = %v", m["error"])
				}
			})
		}
	})
	t.Run("wrong method and content type", func(t *testing.T) {
		resp, err := http.Get(e.issuer + "/register")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/register", strings.NewReader(good))
		req.SetBasicAuth(testClientID, testClientSecret)
		req.Header.Set("Content-Type", "text/plain")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("text/plain: %d", resp.StatusCode)
		}
	})
	t.Run("failed logins are rate limited", func(t *testing.T) {
		e2 := newEnv(t, nil)
		for i := 0; i < 10; i++ {
			e2.register(t, testClientID, "wrong", good)
		}
		st, _, _ := e2.register(t, testClientID, testClientSecret, good)
		if st != http.StatusTooManyRequests {
			t.Fatalf("after 10 failures: %d", st)
		}
	})
}

func TestRegisterClosedWithoutOperatorClient(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.ClientID, o.ClientSecret = "", "" })
	for _, c := range [][2]string{{"", ""}, {"", "x"}, {"a", "b"}} {
		st, m, _ := e.register(t, c[0], c[1], `{"redirect_uris":["https://a.example/cb"]}`)
		if st != http.StatusForbidden || !strings.Contains(m["error_description"].(string), "closed") {
			t.Fatalf("%d %v", st, m)
		}
	}
}

func TestApprovalPage(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.staticConfig()
	authURL := func() string {
		return cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	}

	t.Run("headers", func(t *testing.T) {
		resp, body := getPage(t, browser(t), authURL())
		h := resp.Header
		if h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Fatalf("headers %v", h)
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self' " + e.callback.URL} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(body, "<script") {
			t.Error("page has a script")
		}
		if !strings.Contains(body, "127.0.0.1") {
			t.Error("page does not show the redirect host")
		}
	})
	t.Run("wrong secret gives no code", func(t *testing.T) {
		c := browser(t)
		f := openApproval(t, c, authURL())
		resp, body := e.postApproval(t, c, url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "secret": {"wrong"}})
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" || !strings.Contains(body, "Wrong secret") {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if !strings.Contains(body, `name="csrf_token"`) {
			t.Fatal("page not shown again")
		}
		// The same request can still be approved with the right secret.
		resp, _ = e.postApproval(t, c, url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "secret": {testApprovalSecret}})
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "code=") {
			t.Fatalf("retry: %d", resp.StatusCode)
		}
		// And only once.
		resp, _ = e.postApproval(t, c, url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "secret": {testApprovalSecret}})
		if resp.StatusCode == http.StatusSeeOther {
			t.Fatal("approved twice")
		}
	})
	t.Run("missing CSRF token", func(t *testing.T) {
		c := browser(t)
		f := openApproval(t, c, authURL())
		resp, _ := e.postApproval(t, c, url.Values{"request_id": {f.requestID}, "secret": {testApprovalSecret}})
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
			t.Fatalf("%d", resp.StatusCode)
		}
		resp, _ = e.postApproval(t, c, url.Values{"request_id": {f.requestID}, "csrf_token": {"forged"}, "secret": {testApprovalSecret}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("forged: %d", resp.StatusCode)
		}
	})
	t.Run("CSRF token without the cookie", func(t *testing.T) {
		f := openApproval(t, browser(t), authURL())
		resp, _ := e.postApproval(t, browser(t), url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "secret": {testApprovalSecret}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("deny", func(t *testing.T) {
		c := browser(t)
		f := openApproval(t, c, authURL())
		resp, _ := e.postApproval(t, c, url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "action": {"deny"}})
		q := e.follow(t, resp.Header.Get("Location"))
		if q.Get("error") != "access_denied" || q.Get("code") != "" {
			t.Fatalf("%v", q)
		}
	})
	t.Run("expired request", func(t *testing.T) {
		c := browser(t)
		f := openApproval(t, c, authURL())
		e.clock.Advance(pendingTTL + time.Second)
		defer e.clock.Advance(-(pendingTTL + time.Second))
		resp, _ := e.postApproval(t, c, url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "secret": {testApprovalSecret}})
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		e2 := newEnv(t, nil)
		c := browser(t)
		f := openApproval(t, c, e2.config(testClientID, testClientSecret, oauth2.AuthStyleInHeader).AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		for i := 0; i < 5; i++ {
			resp, _ := e2.postApproval(t, c, url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "secret": {"wrong"}})
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("attempt %d: %d", i, resp.StatusCode)
			}
		}
		resp, _ := e2.postApproval(t, c, url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "secret": {testApprovalSecret}})
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Location") != "" {
			t.Fatalf("6th attempt: %d", resp.StatusCode)
		}
		e2.clock.Advance(time.Minute + time.Second)
		resp, _ = e2.postApproval(t, c, url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "secret": {testApprovalSecret}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("after a minute: %d", resp.StatusCode)
		}
	})
	t.Run("client name is escaped", func(t *testing.T) {
		body := `{"redirect_uris":["http://127.0.0.1/callback"],"client_name":"<script>alert(1)</script>\"'&","token_endpoint_auth_method":"none"}`
		st, m, _ := e.register(t, testClientID, testClientSecret, body)
		if st != http.StatusCreated {
			t.Fatalf("%d %v", st, m)
		}
		p := validParams(e, oauth2.GenerateVerifier())
		p.Set("client_id", m["client_id"].(string))
		p.Set("state", `"><script>x</script>`)
		_, page := getPage(t, browser(t), e.authURL(p))
		if strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Fatalf("not escaped: %s", page)
		}
	})
	t.Run("error page for bad request is escaped and not redirected", func(t *testing.T) {
		resp, page := getPage(t, browser(t), e.issuer+"/authorize?client_id=%3Cscript%3E&redirect_uri=https://evil.example/")
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(page, "<script>") {
			t.Fatalf("%d %s", resp.StatusCode, page)
		}
	})
}

func TestRootRedirects(t *testing.T) {
	e := newEnv(t, nil)
	c := browser(t)
	for from, to := range map[string]string{
		"/.well-known/oauth-authorization-server":     "/mcp/.well-known/oauth-authorization-server",
		"/.well-known/oauth-authorization-server/mcp": "/mcp/.well-known/oauth-authorization-server",
		"/.well-known/oauth-protected-resource":       "/mcp/.well-known/oauth-protected-resource",
		"/.well-known/oauth-protected-resource/mcp":   "/mcp/.well-known/oauth-protected-resource",
		"/authorize": "/mcp/authorize",
		"/token":     "/mcp/token",
		"/register":  "/mcp/register",
		"/revoke":    "/mcp/revoke",
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req, _ := http.NewRequest(method, e.ts.URL+from+"?a=1&b=%2F2", nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusTemporaryRedirect {
				t.Errorf("%s %s: %d", method, from, resp.StatusCode)
			}
			if got, want := resp.Header.Get("Location"), e.ts.URL+to+"?a=1&b=%2F2"; got != want {
				t.Errorf("%s: Location %q, want %q", from, got, want)
			}
		}
	}
	// A POST to the root /token, followed by the default client, reaches
	// the real endpoint with its body (307 keeps method and body).
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/token", strings.NewReader("grant_type=password"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testClientID, testClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if m["error"] != "unsupported_grant_type" {
		t.Fatalf("redirected POST /token: %d %v", resp.StatusCode, m)
	}
}

func getJSON(t *testing.T, u string) (map[string]any, http.Header) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m, resp.Header
}

func TestMetadata(t *testing.T) {
	e := newEnv(t, nil)
	// Through the root well-known URL (RFC 8414 §3 form), following the 307.
	m, h := getJSON(t, e.ts.URL+"/.well-known/oauth-authorization-server/mcp")
	if h.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("no CORS header")
	}
	want := map[string]any{
		"issuer":                 e.issuer,
		"authorization_endpoint": e.issuer + "/authorize",
		"token_endpoint":         e.issuer + "/token",
		"registration_endpoint":  e.issuer + "/register",
		"revocation_endpoint":    e.issuer + "/revoke",
		"authorization_response_iss_parameter_supported": true,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	list := func(k string) string {
		var out []string
		for _, v := range m[k].([]any) {
			out = append(out, v.(string))
		}
		return strings.Join(out, ",")
	}
	for k, v := range map[string]string{
		"code_challenge_methods_supported":      "S256",
		"grant_types_supported":                 "authorization_code,refresh_token",
		"token_endpoint_auth_methods_supported": "client_secret_post,client_secret_basic,none",
		"response_types_supported":              "code",
		"scopes_supported":                      "mcp",
	} {
		if got := list(k); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	pr, _ := getJSON(t, e.ts.URL+"/.well-known/oauth-protected-resource/mcp")
	if pr["resource"] != e.issuer || pr["authorization_servers"].([]any)[0] != e.issuer {
		t.Errorf("protected resource metadata: %v", pr)
	}
	pr2, _ := getJSON(t, e.srv.ResourceMetadataURL())
	if pr2["resource"] != e.issuer {
		t.Errorf("ResourceMetadataURL serves %v", pr2)
	}
	if s := e.srv.Scopes(); len(s) != 1 || s[0] != "mcp" {
		t.Errorf("Scopes() = %v", s)
	}
	// Preflight.
	req, _ := http.NewRequest(http.MethodOptions, e.issuer+"/.well-known/oauth-authorization-server", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("OPTIONS: %d", resp.StatusCode)
	}
}

func TestPersistenceAcrossRestart(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.staticConfig()
	tok := e.tokenFor(t, cfg)
	id, sec := e.registerClient(t, "client_secret_basic")
	e.restart()
	e.mustVerify(t, tok.AccessToken)
	st, m := e.operatorRefresh(t, tok.RefreshToken)
	if st != http.StatusOK {
		t.Fatalf("refresh after restart: %d %v", st, m)
	}
	// The registered client survived too.
	e.mustVerify(t, e.tokenFor(t, e.config(id, sec, oauth2.AuthStyleInHeader)).AccessToken)
}

func TestStaticSecretChangeRevokesItsTokens(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.tokenFor(t, e.staticConfig())
	id, sec := e.registerClient(t, "client_secret_basic")
	other := e.tokenFor(t, e.config(id, sec, oauth2.AuthStyleInHeader))
	e.opts.ClientSecret = "a-new-static-secret"
	e.restart()
	e.mustNotVerify(t, tok.AccessToken)
	e.mustVerify(t, other.AccessToken)
	// Changing the client id removes the old static client entirely.
	tok2 := e.tokenFor(t, e.config(testClientID, "a-new-static-secret", oauth2.AuthStyleInHeader))
	e.opts.ClientID = "servagent-ffffffffffffffff"
	e.restart()
	e.mustNotVerify(t, tok2.AccessToken)
	var n int64
	e.srv.db.Model(&clientRow{}).Where("id = ?", testClientID).Count(&n)
	if n != 0 {
		t.Fatal("old static client still registered")
	}
}

func TestFileModes(t *testing.T) {
	e := newEnv(t, nil)
	fi, err := os.Stat(e.opts.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("db mode %#o", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(e.opts.DBPath))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %#o", di.Mode().Perm())
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if fi, err := os.Stat(e.opts.DBPath + suffix); err == nil && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s mode %#o", suffix, fi.Mode().Perm())
		}
	}

	// A loose file is tightened; an existing directory is used as it is
	// (it may be shared with others, like /srv), never chmodded.
	dir := filepath.Join(t.TempDir(), "loose")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	db := filepath.Join(dir, "oauth.db")
	if err := os.WriteFile(db, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(db, 0o644)
	s, err := New(context.Background(), Options{IssuerURL: "https://example.com/mcp", DBPath: db, Approval: ApprovalAuto})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if fi, _ := os.Stat(db); fi.Mode().Perm() != 0o600 {
		t.Errorf("db mode after open %#o", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
		t.Errorf("existing dir mode changed to %#o, want 0755 kept", fi.Mode().Perm())
	}

	// A symlink or a shared directory is refused.
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(db, link); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), Options{IssuerURL: "https://example.com/mcp", DBPath: link, Approval: ApprovalAuto}); err == nil {
		t.Error("symlinked database accepted")
	}
	shared := roottest.SharedDir(t, t.TempDir(), "shared")
	if _, err := New(context.Background(), Options{IssuerURL: "https://example.com/mcp", DBPath: filepath.Join(shared, "o.db"), Approval: ApprovalAuto}); err == nil {
		t.Error("database in a sticky world-writable directory accepted")
	}
}

// TestDBDirRefused: a directory others may write into, or that belongs to
// another user, is refused with one line naming it; its mode is unchanged.
func TestDBDirRefused(t *testing.T) {
	open := func(dir string) error {
		s, err := New(context.Background(), Options{IssuerURL: "https://example.com/mcp", DBPath: filepath.Join(dir, "oauth.db"), Approval: ApprovalAuto})
		if err == nil {
			s.Close()
		}
		return err
	}
	for _, mode := range []os.FileMode{0o775, 0o777, 0o777 | os.ModeSticky} {
		dir := filepath.Join(t.TempDir(), "d")
		os.Mkdir(dir, 0o700)
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		err := open(dir)
		if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "writable") || strings.Contains(err.Error(), "\n") {
			t.Errorf("mode %#o: err = %v, want one line naming %s as writable", mode, err, dir)
		}
		// serve says "starting OAuth: " before it: no package prefix of its own.
		if err != nil && !strings.HasPrefix(err.Error(), "database directory "+dir+" is ") {
			t.Errorf("mode %#o: %q, want it to begin with the directory", mode, err)
		}
		if fi, _ := os.Stat(dir); fi.Mode()&(os.ModePerm|os.ModeSticky) != mode {
			t.Errorf("mode %#o changed to %#o", mode, fi.Mode())
		}
	}
	t.Run("other owner", func(t *testing.T) {
		roottest.Need(t, "gives a directory to another user")
		dir := filepath.Join(t.TempDir(), "nobody")
		os.Mkdir(dir, 0o755)
		if err := os.Chown(dir, roottest.Nobody, roottest.Nobody); err != nil {
			t.Fatal(err)
		}
		if err := open(dir); err == nil || !strings.Contains(err.Error(), "uid 65534") {
			t.Errorf("err = %v, want a refusal naming uid 65534", err)
		}
	})
}

func TestPurge(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.staticConfig()
	tok := e.tokenFor(t, cfg)
	v := oauth2.GenerateVerifier()
	_ = e.codeFor(t, cfg, v) // an unused code
	count := func(model any) int64 {
		var n int64
		e.srv.db.Model(model).Count(&n)
		return n
	}
	if count(&tokenRow{}) != 2 || count(&codeRow{}) != 2 {
		t.Fatalf("before: %d tokens %d codes", count(&tokenRow{}), count(&codeRow{}))
	}
	// Past the access token's life: only the refresh token remains; codes
	// stay through their grace period.
	e.clock.Advance(accessTTL + time.Minute)
	if err := e.srv.purge(context.Background()); err != nil {
		t.Fatal(err)
	}
	if count(&tokenRow{}) != 1 {
		t.Fatalf("after 1h: %d tokens", count(&tokenRow{}))
	}
	e.clock.Advance(codeGrace)
	e.srv.purge(context.Background())
	if count(&codeRow{}) != 0 {
		t.Fatalf("codes not purged: %d", count(&codeRow{}))
	}
	e.clock.Advance(refreshTTL)
	e.srv.purge(context.Background())
	if count(&tokenRow{}) != 0 {
		t.Fatalf("tokens not purged: %d", count(&tokenRow{}))
	}
	e.mustNotVerify(t, tok.AccessToken)
	// Static client rows are never purged.
	if count(&clientRow{}) != 1 {
		t.Fatal("client purged")
	}
}

func TestNewValidation(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "x", "o.db")
	for name, o := range map[string]Options{
		"no /mcp":            {IssuerURL: "https://example.com/", DBPath: db, Approval: ApprovalAuto},
		"query":              {IssuerURL: "https://example.com/mcp?x=1", DBPath: db, Approval: ApprovalAuto},
		"half credentials":   {IssuerURL: "https://example.com/mcp", DBPath: db, Approval: ApprovalAuto, ClientID: "a"},
		"operator no secret": {IssuerURL: "https://example.com/mcp", DBPath: db},
		"bad approval":       {IssuerURL: "https://example.com/mcp", DBPath: db, Approval: "yes"},
		"bad extra uri":      {IssuerURL: "https://example.com/mcp", DBPath: db, Approval: ApprovalAuto, ExtraRedirectURIs: []string{"http://evil.example/cb"}},
		"no db path":         {IssuerURL: "https://example.com/mcp", Approval: ApprovalAuto},
		"plain http":         {IssuerURL: "http://example.com/mcp", DBPath: db, Approval: ApprovalAuto},
	} {
		if s, err := New(context.Background(), o); err == nil {
			s.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCloseStopsPurgeLoop(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.srv.done:
	default:
		t.Fatal("purge goroutine still running after Close")
	}
	if err := e.srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCodesStoredHashed(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.staticConfig()
	code := e.codeFor(t, cfg, oauth2.GenerateVerifier())
	var n int64
	e.srv.db.Model(&codeRow{}).Where("hash = ?", secret.Hash(code)).Count(&n)
	if n != 1 {
		t.Fatal("code not stored as its hash")
	}
	raw, err := os.ReadFile(e.opts.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(e.opts.DBPath + "-wal")
	if strings.Contains(string(raw)+string(wal), code) || strings.Contains(string(raw)+string(wal), testClientSecret) {
		t.Fatal("code or client secret found in clear in the database files")
	}
}
