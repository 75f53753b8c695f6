package oauth

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servagent/servagent/internal/testutil/roottest"
	"golang.org/x/oauth2"
)

// TestApprovalFailuresPerPage: wrong secrets on one client's page lock that
// page, not another page opened from the same address (as behind a shared
// proxy); the address as a whole stays bounded.
func TestApprovalFailuresPerPage(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.staticConfig()
	authURL := func() string { return cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())) }
	post := func(c *http.Client, f approvalForm, sec string) int {
		resp, _ := e.postApproval(t, c, url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "secret": {sec}, "action": {"approve"}})
		return resp.StatusCode
	}
	att := browser(t)
	fa := openApproval(t, att, authURL())
	op := browser(t)
	fo := openApproval(t, op, authURL())
	for i := range approvalsPerPage {
		if st := post(att, fa, "guess"); st != http.StatusForbidden {
			t.Fatalf("wrong secret %d: %d", i, st)
		}
	}
	if st := post(att, fa, "guess"); st != http.StatusTooManyRequests {
		t.Fatalf("6th guess on the same page: %d, want 429", st)
	}
	if st := post(op, fo, testApprovalSecret); st != http.StatusSeeOther {
		t.Fatalf("operator's page after another page's failures: %d, want 303", st)
	}
	// New pages buy guesses only up to the address's budget.
	refused := false
	for i := approvalsPerPage; i < approvalsPerAddr+approvalsPerPage && !refused; i++ {
		c := browser(t)
		refused = post(c, openApproval(t, c, authURL()), "guess") == http.StatusTooManyRequests
		if refused && i < approvalsPerAddr {
			t.Fatalf("refused after %d guesses, want %d", i, approvalsPerAddr)
		}
	}
	if !refused {
		t.Fatalf("more than %d guesses a minute from one address", approvalsPerAddr)
	}
}

// TestApprovalRequestTampered: the signed request cannot be edited (here
// its state or redirect URI) or moved to another browser.
func TestApprovalRequestTampered(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.staticConfig()
	c := browser(t)
	f := openApproval(t, c, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	enc, sig, _ := strings.Cut(f.requestID, ".")
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := url.ParseQuery(string(raw))
	v.Set("r", "https://evil.example/cb")
	forged := base64.RawURLEncoding.EncodeToString([]byte(v.Encode())) + "." + sig
	resp, _ := e.postApproval(t, c, url.Values{"request_id": {forged}, "csrf_token": {f.csrf}, "secret": {testApprovalSecret}, "action": {"approve"}})
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
		t.Fatalf("edited request: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The untouched one still works, once.
	resp, _ = e.postApproval(t, c, url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "secret": {testApprovalSecret}, "action": {"approve"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("genuine request: %d", resp.StatusCode)
	}
	resp, _ = e.postApproval(t, c, url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "action": {"deny"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("deny after approve: %d, want 400 (already answered)", resp.StatusCode)
	}
}

// TestAuthorizeLimiterFull: when the GET /authorize limiter tracks its
// maximum of live addresses, a new address (the operator's) still gets its
// page: the oldest address is forgotten instead.
func TestAuthorizeLimiterFull(t *testing.T) {
	e := newEnv(t, nil)
	now := e.clock.Now()
	for i := range 10000 {
		e.srv.authzGet.Allow(fmt.Sprintf("192.0.2.%d/%d", i%256, i), now)
	}
	cfg := e.staticConfig()
	resp, body := getPage(t, browser(t), cfg.AuthCodeURL("op", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("operator after a flood of 10000 addresses: %d %s", resp.StatusCode, body)
	}
}

// TestLimitsKeyIPv6By64: addresses of one IPv6 /64 share a budget; another
// /64 has its own.
func TestLimitsKeyIPv6By64(t *testing.T) {
	e := newEnv(t, nil)
	get := func(addr string) int {
		r := httptest.NewRequest(http.MethodGet, "/mcp/authorize", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, r)
		return w.Code
	}
	for i := range authorizePerMinute {
		if st := get(fmt.Sprintf("[2001:db8:1:2::%x]:4000", i+1)); st == http.StatusTooManyRequests {
			t.Fatalf("request %d refused", i)
		}
	}
	if st := get("[2001:db8:1:2:ffff:ffff:ffff:ffff]:4000"); st != http.StatusTooManyRequests {
		t.Fatalf("another address of the same /64: %d, want 429", st)
	}
	if st := get("[2001:db8:1:3::1]:4000"); st == http.StatusTooManyRequests {
		t.Fatal("another /64 refused")
	}
	if got := addrKey("::ffff:192.0.2.1"); got != "192.0.2.1" {
		t.Fatalf("addrKey of a mapped IPv4 address: %q", got)
	}
}

// TestRefreshReuseClosesOnUse: once the new access token has been used, the
// old refresh token no longer gets the pair back within the interval: it
// revokes the family.
func TestRefreshReuseClosesOnUse(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RefreshReuseInterval = 30 * time.Second })
	id, _ := e.registerClient(t, "none")
	cfg := e.config(id, "", oauth2.AuthStyleInParams)
	tok := e.tokenFor(t, cfg)
	refresh := func(rt string) (int, map[string]any) {
		st, m, _ := e.postForm(t, "/token", [2]string{}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {id}})
		return st, m
	}
	st, pair := refresh(tok.RefreshToken)
	if st != http.StatusOK {
		t.Fatal(st)
	}
	// Unused: a retry gets the same pair.
	if st, again := refresh(tok.RefreshToken); st != http.StatusOK || again["access_token"] != pair["access_token"] {
		t.Fatalf("retry before use: %d", st)
	}
	e.mustVerify(t, pair["access_token"].(string))
	e.clock.Advance(5 * time.Second)
	if st, _ := refresh(tok.RefreshToken); st != http.StatusBadRequest {
		t.Fatalf("old refresh token after the new pair was used: %d, want 400", st)
	}
	e.mustNotVerify(t, pair["access_token"].(string))
}

// TestDBAncestorsChecked: a directory above the database that others may
// write, or a symlink on the way that another user could swap, is refused;
// a symlink we own to a good directory is resolved once and used.
func TestDBAncestorsChecked(t *testing.T) {
	open := func(path string) error {
		s, err := New(context.Background(), Options{IssuerURL: "https://example.com/mcp", DBPath: path, Approval: ApprovalAuto})
		if err == nil {
			s.Close()
		}
		return err
	}
	base := t.TempDir()
	loose := filepath.Join(base, "loose")
	os.Mkdir(loose, 0o777)
	os.Chmod(loose, 0o777) // not sticky: anyone can rename what is inside
	inner := filepath.Join(loose, "state")
	os.Mkdir(inner, 0o700)
	if err := open(filepath.Join(inner, "oauth.db")); err == nil || !strings.Contains(err.Error(), loose) || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("ancestor 0777: err = %v", err)
	}
	missing := filepath.Join(loose, "new", "state")
	if err := open(filepath.Join(missing, "oauth.db")); err == nil {
		t.Error("missing directory under a 0777 ancestor accepted")
	}
	if _, err := os.Stat(filepath.Join(loose, "new")); err == nil {
		t.Error("directories were created under a 0777 ancestor before it was checked")
	}
	good := filepath.Join(base, "good")
	os.Mkdir(good, 0o700)
	link := filepath.Join(base, "link")
	os.Symlink(good, link)
	if err := open(filepath.Join(link, "oauth.db")); err != nil {
		t.Errorf("our own symlink to a good directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(good, "oauth.db")); err != nil {
		t.Errorf("database not in the resolved directory: %v", err)
	}
	t.Run("symlink of another user in a sticky directory", func(t *testing.T) {
		roottest.Need(t, "gives a symlink to another user")
		theirs := filepath.Join(roottest.SharedDir(t, base, "tmp"), "servagent")
		roottest.SymlinkAs(t, good, theirs, roottest.Nobody)
		if err := open(filepath.Join(theirs, "oauth.db")); err == nil || !strings.Contains(err.Error(), "writable by others") {
			t.Errorf("nobody's symlink in a sticky directory: err = %v", err)
		}
	})
}
