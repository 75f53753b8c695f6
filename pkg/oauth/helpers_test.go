package oauth

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const (
	testClientID       = "servagent-0123456789abcdef"
	testClientSecret   = "static-client-secret-for-tests-0123456789"
	testApprovalSecret = "operator-approval-secret"
)

// staticCreds authenticate the static client to postForm (Basic auth).
var staticCreds = [2]string{testClientID, testClientSecret}

// clock is a settable time source for Options.Now.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// env is a running authorization server on loopback plus a callback server
// that plays the client's redirect target.
type env struct {
	t        *testing.T
	srv      *Server
	ts       *httptest.Server
	mux      *http.ServeMux
	opts     Options
	clock    *clock
	issuer   string
	callback *httptest.Server

	mu     sync.Mutex
	lastCB url.Values
	cur    atomic.Pointer[http.ServeMux] // swapped on restart
}

func newEnv(t *testing.T, mutate func(*Options)) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{}}
	e.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.cur.Load().ServeHTTP(w, r) }))
	t.Cleanup(e.ts.Close)
	e.issuer = e.ts.URL + "/mcp"
	e.callback = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.lastCB = r.URL.Query()
		e.mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(e.callback.Close)
	e.opts = Options{
		IssuerURL:    e.issuer,
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		DBPath:       filepath.Join(t.TempDir(), "state", "oauth.db"),
		// Registered without a port: the callback server's real port must
		// be accepted (RFC 8252 loopback rule).
		ExtraRedirectURIs: []string{"http://127.0.0.1/callback"},
		ApprovalSecret:    testApprovalSecret,
		Now:               e.clock.Now,
	}
	if mutate != nil {
		mutate(&e.opts)
	}
	e.start()
	return e
}

func (e *env) start() {
	e.t.Helper()
	srv, err := New(context.Background(), e.opts)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.srv = srv
	e.t.Cleanup(func() { srv.Close() })
	e.mux = http.NewServeMux()
	srv.Register(e.mux)
	e.cur.Store(e.mux)
}

// restart closes the server and opens a new one on the same database.
func (e *env) restart() {
	e.t.Helper()
	if err := e.srv.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.start()
}

func (e *env) callbackURL() string { return e.callback.URL + "/callback" }

func (e *env) config(clientID, clientSecret string, style oauth2.AuthStyle) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.issuer + "/authorize",
			TokenURL:  e.issuer + "/token",
			AuthStyle: style,
		},
		RedirectURL: e.callbackURL(),
		Scopes:      []string{"mcp"},
	}
}

// staticConfig is the client configuration of the static client (the
// operator's, from SERVAGENT_OAUTH_CLIENT_ID), authenticating by Basic auth.
func (e *env) staticConfig() *oauth2.Config {
	return e.config(testClientID, testClientSecret, oauth2.AuthStyleInHeader)
}

// browser is an HTTP client with cookies that does not follow redirects,
// so tests can look at each hop.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var (
	requestIDRe = regexp.MustCompile(`name="request_id" value="([^"]*)"`)
	csrfRe      = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
)

// approvalForm is what a GET /mcp/authorize page hands out.
type approvalForm struct {
	requestID, csrf string
	body            string
}

func getPage(t *testing.T, c *http.Client, authURL string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func openApproval(t *testing.T, c *http.Client, authURL string) approvalForm {
	t.Helper()
	resp, body := getPage(t, c, authURL)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET authorize: %d %s (Location %q)", resp.StatusCode, body, resp.Header.Get("Location"))
	}
	m1, m2 := requestIDRe.FindStringSubmatch(body), csrfRe.FindStringSubmatch(body)
	if m1 == nil || m2 == nil {
		t.Fatalf("approval page without form fields: %s", body)
	}
	return approvalForm{requestID: html.UnescapeString(m1[1]), csrf: html.UnescapeString(m2[1]), body: body}
}

func (e *env) postApproval(t *testing.T, c *http.Client, f url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(e.issuer+"/authorize", f)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// approve answers the approval page with the operator secret, follows the
// redirect to the callback server and returns the callback's query.
func (e *env) approve(t *testing.T, authURL string) url.Values {
	t.Helper()
	c := browser(t)
	f := openApproval(t, c, authURL)
	resp, body := e.postApproval(t, c, url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "secret": {testApprovalSecret}, "action": {"approve"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approval POST: %d %s", resp.StatusCode, body)
	}
	return e.follow(t, resp.Header.Get("Location"))
}

// follow visits a redirect Location that must point at the callback server.
func (e *env) follow(t *testing.T, loc string) url.Values {
	t.Helper()
	if !strings.HasPrefix(loc, e.callback.URL+"/") {
		t.Fatalf("redirect to %q, want the callback server %s", loc, e.callback.URL)
	}
	resp, err := http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastCB
}

// codeFor runs the front channel and returns a code for cfg with verifier.
func (e *env) codeFor(t *testing.T, cfg *oauth2.Config, verifier string, extra ...oauth2.AuthCodeOption) string {
	t.Helper()
	state := "st-" + verifier[:8]
	q := e.approve(t, cfg.AuthCodeURL(state, append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, extra...)...))
	if q.Get("state") != state {
		t.Fatalf("state = %q, want %q", q.Get("state"), state)
	}
	if q.Get("iss") != e.issuer {
		t.Fatalf("iss = %q, want %q", q.Get("iss"), e.issuer)
	}
	if q.Get("code") == "" {
		t.Fatalf("no code in callback: %v", q)
	}
	return q.Get("code")
}

// tokenFor runs a whole flow and returns the token.
func (e *env) tokenFor(t *testing.T, cfg *oauth2.Config) *oauth2.Token {
	t.Helper()
	v := oauth2.GenerateVerifier()
	code := e.codeFor(t, cfg, v)
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return tok
}

// postForm sends a form to an endpoint with optional Basic credentials and
// returns the status and decoded JSON body.
// operatorRefresh posts a refresh_token grant for rt with the operator
// client's Basic credentials.
func (e *env) operatorRefresh(t *testing.T, rt string) (int, map[string]any) {
	t.Helper()
	st, m, _ := e.postForm(t, "/token", staticCreds, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	return st, m
}

func (e *env) postForm(t *testing.T, path string, basic [2]string, f url.Values) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic[0] != "" {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	return doJSON(t, req)
}

func (e *env) register(t *testing.T, user, pass string, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/register", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	return doJSON(t, req)
}

// registerClient registers a client for the callback server.
func (e *env) registerClient(t *testing.T, method string) (id, sec string) {
	t.Helper()
	body := `{"redirect_uris":["http://127.0.0.1/callback"],"client_name":"Test App","grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"` + method + `"}`
	st, m, _ := e.register(t, testClientID, testClientSecret, body)
	if st != http.StatusCreated {
		t.Fatalf("register: %d %v", st, m)
	}
	id, _ = m["client_id"].(string)
	sec, _ = m["client_secret"].(string)
	return id, sec
}

func (e *env) mustVerify(t *testing.T, tok string) {
	t.Helper()
	if _, err := e.srv.VerifyAccessToken(context.Background(), tok); err != nil {
		t.Fatalf("VerifyAccessToken: %v", err)
	}
}

func (e *env) mustNotVerify(t *testing.T, tok string) {
	t.Helper()
	if _, err := e.srv.VerifyAccessToken(context.Background(), tok); err == nil {
		t.Fatal("VerifyAccessToken accepted a token it should refuse")
	}
}

// doJSON sends req and decodes a JSON object answer (if any).
func doJSON(t *testing.T, req *http.Request) (int, map[string]any, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, resp.Header
}
