package oauth

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"golang.org/x/oauth2"

	"github.com/servagent/servagent/pkg/secret"
)

func TestFlowStaticClient(t *testing.T) {
	e := newEnv(t, nil)
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := e.config(testClientID, testClientSecret, style)
		tok := e.tokenFor(t, cfg)
		if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" {
			t.Fatalf("token = %+v", tok)
		}
		if got := tok.Extra("scope"); got != "mcp" {
			t.Errorf("scope = %v", got)
		}
		info, err := e.srv.VerifyAccessToken(context.Background(), tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if info.UserID != testClientID || info.Extra["client_id"] != testClientID || info.Extra["auth"] != "oauth" {
			t.Errorf("info = %+v", info)
		}
		if len(info.Scopes) != 1 || info.Scopes[0] != "mcp" {
			t.Errorf("scopes = %v", info.Scopes)
		}
		if d := time.Until(info.Expiration); d < 50*time.Minute || d > 61*time.Minute {
			t.Errorf("expiration in %v, want about 1h", d)
		}
		// Refresh through the library: an expired token makes it refresh.
		old := *tok
		old.Expiry = time.Now().Add(-time.Minute)
		nt, err := cfg.TokenSource(context.Background(), &old).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if nt.AccessToken == tok.AccessToken || nt.RefreshToken == tok.RefreshToken {
			t.Fatal("refresh did not rotate tokens")
		}
		e.mustVerify(t, nt.AccessToken)
	}
}

func TestFlowRegisteredConfidentialClient(t *testing.T) {
	e := newEnv(t, nil)
	id, sec := e.registerClient(t, "client_secret_post")
	if sec == "" || !strings.HasPrefix(id, "client-") {
		t.Fatalf("id %q secret empty=%v", id, sec == "")
	}
	cfg := e.config(id, sec, oauth2.AuthStyleInParams)
	tok := e.tokenFor(t, cfg)
	info, err := e.srv.VerifyAccessToken(context.Background(), tok.AccessToken)
	if err != nil || info.UserID != id {
		t.Fatalf("verify: %v %+v", err, info)
	}
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	nt, err := cfg.TokenSource(context.Background(), &old).Token()
	if err != nil {
		t.Fatal(err)
	}
	e.mustVerify(t, nt.AccessToken)
	// The secret is stored hashed, never in clear.
	var c clientRow
	if err := e.srv.db.Where("id = ?", id).Take(&c).Error; err != nil {
		t.Fatal(err)
	}
	if c.SecretHash != secret.Hash(sec) {
		t.Fatal("client secret not stored as its hash")
	}
	// Wrong secret at the token endpoint.
	bad := e.config(id, "wrong", oauth2.AuthStyleInParams)
	v := oauth2.GenerateVerifier()
	code := e.codeFor(t, cfg, v)
	if _, err := bad.Exchange(context.Background(), code, oauth2.VerifierOption(v)); err == nil {
		t.Fatal("exchange with a wrong client secret succeeded")
	}
}

func TestFlowPublicClient(t *testing.T) {
	e := newEnv(t, nil)
	id, sec := e.registerClient(t, "none")
	if sec != "" {
		t.Fatal("public client got a secret")
	}
	cfg := e.config(id, "", oauth2.AuthStyleInParams)
	tok := e.tokenFor(t, cfg)
	e.mustVerify(t, tok.AccessToken)
	st, m, _ := e.postForm(t, "/token", [2]string{}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {id}})
	if st != http.StatusOK || m["access_token"] == nil {
		t.Fatalf("public refresh: %d %v", st, m)
	}
	// A public client presenting a secret is refused.
	st, _, _ = e.postForm(t, "/token", [2]string{}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}, "client_id": {id}, "client_secret": {"x"}})
	if st != http.StatusUnauthorized {
		t.Fatalf("public client with a secret: %d", st)
	}
}

func TestAutoApproval(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Approval = ApprovalAuto; o.ApprovalSecret = "" })
	cfg := e.staticConfig()
	v := oauth2.GenerateVerifier()
	resp, _ := getPage(t, browser(t), cfg.AuthCodeURL("s1", oauth2.S256ChallengeOption(v)))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("auto approval: %d", resp.StatusCode)
	}
	q := e.follow(t, resp.Header.Get("Location"))
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	e.mustVerify(t, tok.AccessToken)
}

// authURL builds an authorization URL by hand, for requests the oauth2
// package would not make.
func (e *env) authURL(p url.Values) string {
	return e.issuer + "/authorize?" + p.Encode()
}

func validParams(e *env, v string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {testClientID}, "redirect_uri": {e.callbackURL()},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(v)}, "code_challenge_method": {"S256"},
		"state": {"xyz"}, "scope": {"mcp"},
	}
}

func TestAuthorizationNegative(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.staticConfig()

	// expectRedirectError checks an error sent back to the callback.
	expectRedirectError := func(t *testing.T, p url.Values, code string) {
		t.Helper()
		resp, body := getPage(t, browser(t), e.authURL(p))
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("status %d, want 302: %s", resp.StatusCode, body)
		}
		q := e.follow(t, resp.Header.Get("Location"))
		if q.Get("error") != code || q.Get("code") != "" || q.Get("iss") != e.issuer || q.Get("state") != p.Get("state") {
			t.Fatalf("callback %v, want error %s", q, code)
		}
	}
	// expectShown checks an error shown to the user, not redirected.
	expectShown := func(t *testing.T, p url.Values) {
		t.Helper()
		resp, body := getPage(t, browser(t), e.authURL(p))
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Fatalf("status %d location %q, want 400 shown here", resp.StatusCode, resp.Header.Get("Location"))
		}
		if !strings.Contains(body, "Authorization error") {
			t.Fatalf("body: %s", body)
		}
	}

	t.Run("wrong PKCE verifier", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := e.codeFor(t, cfg, v)
		if _, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
			t.Fatal("exchange with a wrong verifier succeeded")
		}
		// The code is burnt by the failed attempt.
		if _, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(v)); err == nil {
			t.Fatal("code usable after a failed verifier")
		}
	})
	t.Run("missing verifier", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := e.codeFor(t, cfg, v)
		if _, err := cfg.Exchange(context.Background(), code); err == nil {
			t.Fatal("exchange without verifier succeeded")
		}
	})
	t.Run("plain method", func(t *testing.T) {
		p := validParams(e, oauth2.GenerateVerifier())
		p.Set("code_challenge_method", "plain")
		expectRedirectError(t, p, "invalid_request")
	})
	t.Run("missing method", func(t *testing.T) {
		p := validParams(e, oauth2.GenerateVerifier())
		p.Del("code_challenge_method")
		expectRedirectError(t, p, "invalid_request")
	})
	t.Run("missing challenge", func(t *testing.T) {
		p := validParams(e, oauth2.GenerateVerifier())
		p.Del("code_challenge")
		expectRedirectError(t, p, "invalid_request")
	})
	t.Run("unsupported response type", func(t *testing.T) {
		p := validParams(e, oauth2.GenerateVerifier())
		p.Set("response_type", "token")
		expectRedirectError(t, p, "unsupported_response_type")
	})
	t.Run("unknown scope", func(t *testing.T) {
		p := validParams(e, oauth2.GenerateVerifier())
		p.Set("scope", "admin")
		expectRedirectError(t, p, "invalid_scope")
	})
	t.Run("replayed code revokes its tokens", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := e.codeFor(t, cfg, v)
		tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		e.mustVerify(t, tok.AccessToken)
		if _, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(v)); err == nil {
			t.Fatal("replayed code accepted")
		}
		e.mustNotVerify(t, tok.AccessToken)
		st, _ := e.operatorRefresh(t, tok.RefreshToken)
		if st != http.StatusBadRequest {
			t.Fatalf("refresh after code replay: %d", st)
		}
	})
	t.Run("expired code", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := e.codeFor(t, cfg, v)
		e.clock.Advance(codeTTL + time.Second)
		defer e.clock.Advance(-(codeTTL + time.Second))
		_, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(v))
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Fatalf("expired code: %v", err)
		}
	})
	t.Run("code of another client", func(t *testing.T) {
		id, sec := e.registerClient(t, "client_secret_basic")
		v := oauth2.GenerateVerifier()
		code := e.codeFor(t, cfg, v)
		other := e.config(id, sec, oauth2.AuthStyleInHeader)
		if _, err := other.Exchange(context.Background(), code, oauth2.VerifierOption(v)); err == nil {
			t.Fatal("code exchanged by another client")
		}
	})
	t.Run("wrong redirect URI at authorize", func(t *testing.T) {
		for _, ru := range []string{"https://evil.example/cb", e.callback.URL + "/other", "http://127.0.0.2/callback", "https://claude.ai/api/mcp/auth_callback/x", "https://chatgpt.com/connector/oauth/a/b", "https://chatgpt.com/connector/oauth/a?x=1"} {
			p := validParams(e, oauth2.GenerateVerifier())
			p.Set("redirect_uri", ru)
			expectShown(t, p)
		}
	})
	t.Run("unknown client and missing redirect are shown", func(t *testing.T) {
		p := validParams(e, oauth2.GenerateVerifier())
		p.Set("client_id", "nope")
		expectShown(t, p)
		p = validParams(e, oauth2.GenerateVerifier())
		p.Del("redirect_uri")
		expectShown(t, p)
	})
	t.Run("wrong redirect URI at token", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := e.codeFor(t, cfg, v)
		c2 := *cfg
		c2.RedirectURL = "http://127.0.0.1:1/callback"
		if _, err := c2.Exchange(context.Background(), code, oauth2.VerifierOption(v)); err == nil {
			t.Fatal("exchange with another redirect_uri succeeded")
		}
	})
	t.Run("loopback port variation accepted", func(t *testing.T) {
		// The static client registered http://127.0.0.1/callback without a
		// port; the callback server listens on a random one.
		if !strings.Contains(e.callbackURL(), "127.0.0.1:") {
			t.Skip("callback server not on 127.0.0.1")
		}
		tok := e.tokenFor(t, cfg)
		e.mustVerify(t, tok.AccessToken)
		if !redirectMatches([]string{"http://[::1]:80/cb"}, "http://[::1]:5555/cb", false) ||
			!redirectMatches([]string{"http://localhost/cb"}, "http://localhost:8080/cb", false) ||
			redirectMatches([]string{"http://localhost/cb"}, "http://localhost:8080/cb2", false) ||
			redirectMatches([]string{"https://example.com/cb"}, "https://example.com:444/cb", false) {
			t.Fatal("loopback matching rules")
		}
	})
	t.Run("chatgpt connector callback only for the static client", func(t *testing.T) {
		if !redirectMatches(nil, "https://chatgpt.com/connector/oauth/abc_DEF-123", true) {
			t.Fatal("static client: connector callback refused")
		}
		if redirectMatches(nil, "https://chatgpt.com/connector/oauth/abc_DEF-123", false) {
			t.Fatal("registered client: connector callback accepted")
		}
		p := validParams(e, oauth2.GenerateVerifier())
		p.Set("redirect_uri", "https://chatgpt.com/connector/oauth/abc123")
		resp, _ := getPage(t, browser(t), e.authURL(p))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("connector callback for the static client: %d", resp.StatusCode)
		}
	})
	t.Run("wrong resource at authorize", func(t *testing.T) {
		p := validParams(e, oauth2.GenerateVerifier())
		p.Set("resource", "https://other.example/mcp")
		expectRedirectError(t, p, "invalid_target")
	})
	t.Run("right resource accepted, trailing slash too", func(t *testing.T) {
		tok := e.tokenFor(t, cfg)
		_ = tok
		v := oauth2.GenerateVerifier()
		code := e.codeFor(t, cfg, v, oauth2.SetAuthURLParam("resource", e.issuer+"/"))
		tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(v), oauth2.SetAuthURLParam("resource", e.issuer))
		if err != nil {
			t.Fatal(err)
		}
		e.mustVerify(t, tok.AccessToken)
	})
	t.Run("wrong resource at token", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := e.codeFor(t, cfg, v)
		_, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(v), oauth2.SetAuthURLParam("resource", "https://other.example/mcp"))
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_target" {
			t.Fatalf("err = %v", err)
		}
		tok := e.tokenFor(t, cfg)
		st, m, _ := e.postForm(t, "/token", staticCreds, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "resource": {"https://other.example/mcp"}})
		if st != http.StatusBadRequest || m["error"] != "invalid_target" {
			t.Fatalf("refresh with another resource: %d %v", st, m)
		}
	})
	t.Run("repeated parameter at token", func(t *testing.T) {
		st, m, _ := e.postForm(t, "/token", staticCreds, url.Values{"grant_type": {"refresh_token", "refresh_token"}})
		if st != http.StatusBadRequest || m["error"] != "invalid_request" {
			t.Fatalf("%d %v", st, m)
		}
	})
	t.Run("unsupported grant type", func(t *testing.T) {
		st, m, _ := e.postForm(t, "/token", staticCreds, url.Values{"grant_type": {"password"}})
		if st != http.StatusBadRequest || m["error"] != "unsupported_grant_type" {
			t.Fatalf("%d %v", st, m)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		st, m, h := e.postForm(t, "/token", [2]string{testClientID, "nope"}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}})
		if st != http.StatusUnauthorized || m["error"] != "invalid_client" || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("%d %v %v", st, m, h)
		}
	})
}

func TestAudience(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.staticConfig()
	tok := e.tokenFor(t, cfg)
	e.mustVerify(t, tok.AccessToken)

	// A token stored for another resource must not open this one.
	other := "sat_" + secret.NewKey()
	now := time.Now()
	if err := e.srv.db.Create(&tokenRow{Hash: secret.Hash(other), Kind: kindAccess, ClientID: testClientID, GrantID: "g1",
		Scope: "mcp", Resource: "https://other.example/mcp", IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()}).Error; err != nil {
		t.Fatal(err)
	}
	_, err := e.srv.VerifyAccessToken(context.Background(), other)
	if !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("other audience: %v", err)
	}
	// Audience survives refresh.
	st, m := e.operatorRefresh(t, tok.RefreshToken)
	if st != http.StatusOK {
		t.Fatalf("refresh: %d %v", st, m)
	}
	var row tokenRow
	if err := e.srv.db.Where("hash = ?", secret.Hash(m["access_token"].(string))).Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	if row.Resource != e.issuer {
		t.Fatalf("resource after refresh = %q", row.Resource)
	}
	// Tokens are stored only as hashes.
	var n int64
	e.srv.db.Model(&tokenRow{}).Where("hash = ?", tok.AccessToken).Count(&n)
	if n != 0 {
		t.Fatal("token stored in clear")
	}
	// Expired and unknown tokens.
	for _, bad := range []string{"", "nope", strings.Repeat("a", 10000)} {
		if _, err := e.srv.VerifyAccessToken(context.Background(), bad); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("bad token %q: %v", bad[:min(len(bad), 10)], err)
		}
	}
	e.clock.Advance(accessTTL + time.Second)
	_, err = e.srv.VerifyAccessToken(context.Background(), m["access_token"].(string))
	if !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("expired: %v", err)
	}
}

func TestRefreshRotationReuseRevokesFamily(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.staticConfig()
	tok := e.tokenFor(t, cfg)
	unrelated := e.tokenFor(t, cfg)
	refresh := func(rt string) (int, map[string]any) { return e.operatorRefresh(t, rt) }
	st, m1 := refresh(tok.RefreshToken)
	if st != http.StatusOK {
		t.Fatalf("first refresh: %d %v", st, m1)
	}
	st, m2 := refresh(m1["refresh_token"].(string))
	if st != http.StatusOK {
		t.Fatalf("second refresh: %d %v", st, m2)
	}
	e.mustVerify(t, m2["access_token"].(string))
	// Reusing the first refresh token (already rotated) kills the family.
	st, m := refresh(tok.RefreshToken)
	if st != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v", st, m)
	}
	e.mustNotVerify(t, m2["access_token"].(string))
	e.mustNotVerify(t, m1["access_token"].(string))
	if st, _ := refresh(m2["refresh_token"].(string)); st != http.StatusBadRequest {
		t.Fatalf("latest refresh token still works after family revocation: %d", st)
	}
	// Another grant of the same client is untouched.
	e.mustVerify(t, unrelated.AccessToken)
	if st, _ := refresh(unrelated.RefreshToken); st != http.StatusOK {
		t.Fatal("unrelated grant affected")
	}
	// A refresh may narrow the scope but not widen it.
	tok3 := e.tokenFor(t, cfg)
	st, m, _ = e.postForm(t, "/token", staticCreds, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok3.RefreshToken}, "scope": {"mcp admin"}})
	if st != http.StatusBadRequest || m["error"] != "invalid_scope" {
		t.Fatalf("widening scope: %d %v", st, m)
	}
	// Expired refresh token.
	tok4 := e.tokenFor(t, cfg)
	e.clock.Advance(refreshTTL + time.Second)
	if st, _ := refresh(tok4.RefreshToken); st != http.StatusBadRequest {
		t.Fatalf("expired refresh token: %d", st)
	}
}

func TestRevoke(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.staticConfig()
	a := e.tokenFor(t, cfg)
	b := e.tokenFor(t, cfg)
	c := e.tokenFor(t, cfg)

	t.Run("access token only", func(t *testing.T) {
		st, _, _ := e.postForm(t, "/revoke", staticCreds, url.Values{"token": {a.AccessToken}, "token_type_hint": {"access_token"}})
		if st != http.StatusOK {
			t.Fatalf("revoke: %d", st)
		}
		e.mustNotVerify(t, a.AccessToken)
		// The client's other tokens are still valid.
		e.mustVerify(t, b.AccessToken)
		e.mustVerify(t, c.AccessToken)
	})
	t.Run("refresh token revokes its family only", func(t *testing.T) {
		st, _, _ := e.postForm(t, "/revoke", staticCreds, url.Values{"token": {b.RefreshToken}})
		if st != http.StatusOK {
			t.Fatalf("revoke: %d", st)
		}
		e.mustNotVerify(t, b.AccessToken)
		st, _ = e.operatorRefresh(t, b.RefreshToken)
		if st != http.StatusBadRequest {
			t.Fatalf("revoked refresh token usable: %d", st)
		}
		e.mustVerify(t, c.AccessToken)
	})
	t.Run("unknown token is 200", func(t *testing.T) {
		st, _, _ := e.postForm(t, "/revoke", staticCreds, url.Values{"token": {"unknown"}})
		if st != http.StatusOK {
			t.Fatalf("unknown token: %d", st)
		}
	})
	t.Run("another client cannot revoke", func(t *testing.T) {
		id, sec := e.registerClient(t, "client_secret_basic")
		st, _, _ := e.postForm(t, "/revoke", [2]string{id, sec}, url.Values{"token": {c.AccessToken}})
		if st != http.StatusOK {
			t.Fatalf("status %d", st)
		}
		e.mustVerify(t, c.AccessToken)
	})
	t.Run("client authentication required", func(t *testing.T) {
		st, _, _ := e.postForm(t, "/revoke", [2]string{testClientID, "wrong"}, url.Values{"token": {c.AccessToken}})
		if st != http.StatusUnauthorized {
			t.Fatalf("status %d", st)
		}
		st, _, _ = e.postForm(t, "/revoke", [2]string{}, url.Values{"token": {c.AccessToken}})
		if st != http.StatusUnauthorized {
			t.Fatalf("status %d", st)
		}
		e.mustVerify(t, c.AccessToken)
	})
}

// TestAutoApprovalOnlyConfidential: with auto approval a confidential client
// gets its code at once, a public one still gets the approval page (its id
// alone must not be a credential), and without an approval secret a public
// client is refused outright, never redirected with a code.
func TestAutoApprovalOnlyConfidential(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Approval = ApprovalAuto })
	confID, confSec := e.registerClient(t, "client_secret_basic")
	pubID, _ := e.registerClient(t, "none")

	v := oauth2.GenerateVerifier()
	resp, _ := getPage(t, browser(t), e.config(confID, confSec, oauth2.AuthStyleInHeader).AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("confidential client under auto approval: %d, want 302", resp.StatusCode)
	}
	pub := e.config(pubID, "", oauth2.AuthStyleInParams)
	resp, page := getPage(t, browser(t), pub.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" || !strings.Contains(page, `name="secret"`) {
		t.Fatalf("public client under auto approval: %d Location=%q, want the approval page", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The page works as in operator mode.
	tok := e.tokenFor(t, pub)
	e.mustVerify(t, tok.AccessToken)

	e2 := newEnv(t, func(o *Options) { o.Approval = ApprovalAuto; o.ApprovalSecret = "" })
	pubID2, _ := e2.registerClient(t, "none")
	resp, page = getPage(t, browser(t), e2.config(pubID2, "", oauth2.AuthStyleInParams).AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" || strings.Contains(page, "<form") {
		t.Fatalf("public client, auto approval without a secret: %d Location=%q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestClientSecretFormEncoding: RFC 6749 §2.3.1 form-encodes Basic client
// credentials; a static secret with '+' and '%' works the same on
// /register and /token (and raw, it fails the same on both).
func TestClientSecretFormEncoding(t *testing.T) {
	const sec = "s3cr+t%2F/pa ss~"
	e := newEnv(t, func(o *Options) { o.ClientSecret = sec })
	reg := func(user, pass string) int {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/register", strings.NewReader(`{"redirect_uris":["https://a.example/cb"]}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(user, pass)
		st, _, _ := doJSON(t, req)
		return st
	}
	if st := reg(url.QueryEscape(testClientID), url.QueryEscape(sec)); st != http.StatusCreated {
		t.Fatalf("register with form-encoded Basic: %d, want 201", st)
	}
	// golang.org/x/oauth2 form-encodes Basic credentials, as the RFC says.
	tok := e.tokenFor(t, e.config(testClientID, sec, oauth2.AuthStyleInHeader))
	e.mustVerify(t, tok.AccessToken)
	tok = e.tokenFor(t, e.config(testClientID, sec, oauth2.AuthStyleInParams))
	e.mustVerify(t, tok.AccessToken)

	// Unencoded, "%2F" decodes to "/" and '+' to a space: refused on both.
	if st := reg(testClientID, sec); st != http.StatusUnauthorized {
		t.Fatalf("register with raw Basic: %d, want 401", st)
	}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testClientID, sec)
	if st, m, _ := doJSON(t, req); st != http.StatusUnauthorized {
		t.Fatalf("token with raw Basic: %d %v, want 401", st, m)
	}
}

// clientFrom is an HTTP client whose connections leave from a given
// loopback source address (all of 127.0.0.0/8 is local on Linux), so tests
// can play several client addresses against the loopback server.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// TestAuthorizeFlood: unauthenticated GET /authorize is rate limited per
// address, and a flood from other addresses (one or many) neither breaks the
// operator's open approval page, which still completes, nor refuses the
// operator a new one (pending approvals are stateless).
func TestAuthorizeFlood(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.staticConfig()
	v := oauth2.GenerateVerifier()
	op := browser(t)
	f := openApproval(t, op, cfg.AuthCodeURL("operator", oauth2.S256ChallengeOption(v)))

	flood := func(ip string, n int) (ok, limited, full int) {
		c := clientFrom(t, ip)
		for i := 0; i < n; i++ {
			resp, err := c.Get(cfg.AuthCodeURL("flood", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			if errors.Is(err, syscall.EADDRNOTAVAIL) {
				t.Skipf("cannot send from %s (loopback is not 127.0.0.0/8 here): %v", ip, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				ok++
			case http.StatusTooManyRequests:
				limited++
			case http.StatusServiceUnavailable:
				full++
			default:
				t.Fatalf("flood GET from %s: %d", ip, resp.StatusCode)
			}
		}
		return
	}
	// One address: 1000 requests, cut at the per-minute budget.
	ok, limited, _ := flood("127.0.0.2", 1000)
	if ok != authorizePerMinute || limited != 1000-authorizePerMinute {
		t.Fatalf("one address: %d pages, %d limited; want %d pages then 429", ok, limited, authorizePerMinute)
	}
	// Many addresses, 1500 pages (more than the former store of 1000).
	total, full := 0, 0
	for i := 3; i < 3+50; i++ {
		ok, _, fl := flood("127.0.0."+strconv.Itoa(i), authorizePerMinute)
		total += ok
		full += fl
	}
	if full != 0 || total != 50*authorizePerMinute {
		t.Fatalf("flood from 50 addresses: %d pages, %d refused as full; want every page", total, full)
	}
	if fresh := openApproval(t, browser(t), cfg.AuthCodeURL("new", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); fresh.requestID == "" {
		t.Fatal("no new page for the operator after the flood")
	}
	resp, body := e.postApproval(t, op, url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "secret": {testApprovalSecret}, "action": {"approve"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("operator's approval after the flood: %d %s", resp.StatusCode, body)
	}
	q := e.follow(t, resp.Header.Get("Location"))
	if _, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(v)); err != nil {
		t.Fatal(err)
	}
	// A minute later the address may try again.
	e.clock.Advance(time.Minute + time.Second)
	if ok, _, _ := flood("127.0.0.2", 1); ok != 1 {
		t.Fatal("address still limited after a minute")
	}
}
