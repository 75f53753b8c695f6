package oauth

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// docServer is a local HTTPS server publishing client metadata documents,
// with its CA written to a file for Options.CIMDCAFile.
type docServer struct {
	ts     *httptest.Server
	caFile string

	mu   sync.Mutex
	docs map[string]docResponse
	hits map[string]int
}

type docResponse struct {
	status   int
	body     string
	header   map[string]string
	redirect string
}

func newDocServer(t *testing.T) *docServer {
	t.Helper()
	d := &docServer{docs: map[string]docResponse{}, hits: map[string]int{}}
	d.ts = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		resp, ok := d.docs[r.URL.Path]
		d.hits[r.URL.Path]++
		d.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		for k, v := range resp.header {
			w.Header().Set(k, v)
		}
		if resp.redirect != "" {
			http.Redirect(w, r, resp.redirect, http.StatusFound)
			return
		}
		if resp.status == 0 {
			resp.status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.status)
		w.Write([]byte(resp.body))
	}))
	t.Cleanup(d.ts.Close)
	d.caFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d.ts.Certificate().Raw})
	if err := os.WriteFile(d.caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *docServer) url(path string) string { return d.ts.URL + path }

func (d *docServer) set(path string, r docResponse) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.docs[path] = r
	return d.url(path)
}

// publish serves doc at path with client_id set to its URL (unless doc has
// one) and returns that URL.
func (d *docServer) publish(path string, doc map[string]any, header map[string]string) string {
	u := d.url(path)
	if _, ok := doc["client_id"]; !ok {
		doc["client_id"] = u
	}
	b, _ := json.Marshal(doc)
	return d.set(path, docResponse{body: string(b), header: header})
}

func (d *docServer) hitCount(path string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hits[path]
}

func goodDoc(e *env) map[string]any {
	return map[string]any{
		"client_name":                "Doc App",
		"redirect_uris":              []string{e.callbackURL()},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	}
}

func cimdEnv(t *testing.T, d *docServer, mutate func(*Options)) *env {
	return newEnv(t, func(o *Options) {
		o.CIMDCAFile = d.caFile
		if mutate != nil {
			mutate(o)
		}
	})
}

// TestCIMDFlow: a URL client_id through the approval page (name and host
// shown) to tokens, a refresh and the bearer check; the client is public.
func TestCIMDFlow(t *testing.T) {
	d := newDocServer(t)
	e := cimdEnv(t, d, nil)
	id := d.publish("/oauth/client.json", goodDoc(e), nil)
	cfg := e.config(id, "", oauth2.AuthStyleInParams)

	v := oauth2.GenerateVerifier()
	f := openApproval(t, browser(t), cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	host := strings.TrimPrefix(d.ts.URL, "https://")
	if !strings.Contains(f.body, "Client published by <strong>"+host+"</strong>") || !strings.Contains(f.body, "Doc App") {
		t.Fatalf("approval page lacks the document host %s or the client name:\n%s", host, f.body)
	}
	tok := e.tokenFor(t, cfg)
	e.mustVerify(t, tok.AccessToken)
	info, _ := e.srv.VerifyAccessToken(context.Background(), tok.AccessToken)
	if info.UserID != id {
		t.Fatalf("token user %q, want the client_id URL", info.UserID)
	}
	st, m, _ := e.postForm(t, "/token", [2]string{}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {id}})
	if st != http.StatusOK || m["access_token"] == nil {
		t.Fatalf("refresh: %d %v", st, m)
	}
	// Public: a secret is refused.
	st, m, _ = e.postForm(t, "/token", [2]string{}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}, "client_id": {id}, "client_secret": {"x"}})
	if st != http.StatusUnauthorized || m["error"] != "invalid_client" {
		t.Fatalf("document client with a secret: %d %v", st, m)
	}
	// Two authorizations and token calls, one fetch (no caching headers:
	// the default lifetime applies).
	if n := d.hitCount("/oauth/client.json"); n != 1 {
		t.Fatalf("document fetched %d times, want 1", n)
	}
	// redirect_uris are used exactly: the loopback port leeway of
	// registered clients does not apply.
	p := validParams(e, v)
	p.Set("client_id", id)
	p.Set("redirect_uri", "http://127.0.0.1:1/callback")
	if resp, page := getPage(t, browser(t), e.authURL(p)); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(page, "not listed in the client&#39;s metadata document") {
		t.Fatalf("other port: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
}

// TestCIMDNeverAutoApproved: SERVAGENT_OAUTH_APPROVAL=auto still shows the
// page to a document client.
func TestCIMDNeverAutoApproved(t *testing.T) {
	d := newDocServer(t)
	e := cimdEnv(t, d, func(o *Options) { o.Approval = ApprovalAuto })
	id := d.publish("/c.json", goodDoc(e), nil)
	cfg := e.config(id, "", oauth2.AuthStyleInParams)
	resp, page := getPage(t, browser(t), cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" || !strings.Contains(page, `name="secret"`) {
		t.Fatalf("auto approval applied to a document client: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	e.mustVerify(t, e.tokenFor(t, cfg).AccessToken)
}

// TestCIMDBadDocuments: each unusable document gets a 400 page that says
// why, never a redirect; and invalid_client at /token.
func TestCIMDBadDocuments(t *testing.T) {
	d := newDocServer(t)
	other := newDocServer(t)
	e := cimdEnv(t, d, nil)
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "https://" + addr + "/c.json"
	}()
	with := func(k string, v any) map[string]any {
		m := goodDoc(e)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	other.publish("/c.json", goodDoc(e), nil)
	big := goodDoc(e)
	big["padding"] = strings.Repeat("x", 6000)
	cases := []struct {
		name, id, want string
		tokenToo       bool // /token must refuse it too
	}{
		{"unreachable", closed, "connection refused", true},
		{"not json", d.set("/html", docResponse{body: "<html>hello</html>"}), "not a JSON", true},
		{"too big", d.publish("/big", big, nil), "larger than 5120 bytes", true},
		{"client_id mismatch", d.publish("/mismatch", with("client_id", "https://elsewhere.example/c.json"), nil), "is not the URL it was fetched from", true},
		{"http url", "http://" + strings.TrimPrefix(d.url("/c.json"), "https://"), "must use https", true},
		{"not found", d.url("/missing"), "HTTP 404", true},
		{"cross-host redirect", d.set("/redir", docResponse{redirect: other.url("/c.json")}), "redirects to another host", true},
		{"secret in document", d.publish("/secret", with("client_secret", "s"), nil), "client_secret", true},
		{"confidential auth method", d.publish("/basic", with("token_endpoint_auth_method", "client_secret_basic"), nil), "token_endpoint_auth_method", true},
		{"no redirect uris", d.publish("/nouris", with("redirect_uris", nil), nil), "no redirect_uris", true},
		{"bad redirect uri", d.publish("/baduri", with("redirect_uris", []string{"javascript:alert(1)"}), nil), "rejected", true},
		{"bidi name", d.publish("/bidi", with("client_name", "a\u202eb"), nil), "client_name", true},
		{"redirect_uri not listed", d.publish("/unlisted", with("redirect_uris", []string{"https://app.example/cb"}), nil), "not listed", false},
		{"no path", "https://" + strings.TrimPrefix(d.ts.URL, "https://"), "must have a path", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := validParams(e, oauth2.GenerateVerifier())
			p.Set("client_id", c.id)
			resp, page := getPage(t, browser(t), e.authURL(p))
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("%d Location=%q, want a 400 page", resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(page, c.want) {
				t.Fatalf("page does not say %q:\n%s", c.want, page)
			}
			if !c.tokenToo {
				return
			}
			st, m, _ := e.postForm(t, "/token", [2]string{}, url.Values{"grant_type": {"authorization_code"}, "code": {"sac_x"}, "code_verifier": {oauth2.GenerateVerifier()}, "client_id": {c.id}})
			if st != http.StatusUnauthorized || m["error"] != "invalid_client" || !strings.Contains(m["error_description"].(string), c.want) {
				t.Fatalf("/token: %d %v, want invalid_client saying %q", st, m, c.want)
			}
		})
	}
}

// TestCIMDPrivateAddresses: without a CA file, documents on loopback and
// private addresses are refused on the address actually dialed (a name
// resolving to loopback included); with one, loopback is allowed but
// private networks still are not.
func TestCIMDPrivateAddresses(t *testing.T) {
	d := newDocServer(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(d.ts.URL, "https://"))
	e := newEnv(t, nil)
	withCA := cimdEnv(t, d, nil)
	for _, c := range []struct {
		env  *env
		id   string
		want string
	}{
		{e, "https://localhost:" + port + "/c.json", "not a public address"},
		{e, "https://127.0.0.1:" + port + "/c.json", "resolves to 127.0.0.1, which is not a public address"},
		{e, "https://[::ffff:127.0.0.1]:" + port + "/c.json", "not a public address"},
		{e, "https://10.0.0.1/c.json", "resolves to 10.0.0.1"},
		{e, "https://169.254.169.254/latest/meta-data", "resolves to 169.254.169.254"},
		{e, "https://[fd00::1]/c.json", "not a public address"},
		{withCA, "https://10.0.0.1/c.json", "resolves to 10.0.0.1"},
		{withCA, "https://192.168.1.1/c.json", "resolves to 192.168.1.1"},
	} {
		p := validParams(c.env, oauth2.GenerateVerifier())
		p.Set("client_id", c.id)
		resp, page := getPage(t, browser(t), c.env.authURL(p))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, c.want) {
			t.Errorf("%s: %d, page lacks %q:\n%s", c.id, resp.StatusCode, c.want, page)
		}
	}
	if n := d.hitCount("/c.json"); n != 0 {
		t.Fatalf("the document server was reached %d times", n)
	}
}

func TestIsPublicAddr(t *testing.T) {
	for s, want := range map[string]bool{
		"8.8.8.8": true, "2606:4700::1111": true, "1.1.1.1": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.0.1": false,
		"169.254.169.254": false, "fe80::1": false, "fd00::1": false, "0.0.0.0": false, "::": false,
		"100.64.0.1": false, "224.0.0.1": false, "255.255.255.255": false, "64:ff9b::a00:1": false,
		// IPv4-compatible, site-local, IPv4-translated, 6to4 relay, ORCHIDv2,
		// documentation and SRv6 ranges.
		"::127.0.0.1": false, "::10.0.0.1": false, "fec0::1": false, "::ffff:0:7f00:1": false,
		"192.88.99.1": false, "2001:20::1": false, "3fff::1": false, "5f00::1": false,
	} {
		if got := isPublicAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("isPublicAddr(%s) = %v, want %v", s, got, want)
		}
	}
}

// TestCIMDCache: a document is reused per its caching headers, at most 24 h
// and at least a minute (no-store included: each fetch is made for whoever
// asks).
func TestCIMDCache(t *testing.T) {
	d := newDocServer(t)
	e := cimdEnv(t, d, nil)
	open := func(id string) {
		t.Helper()
		p := validParams(e, oauth2.GenerateVerifier())
		p.Set("client_id", id)
		if resp, body := getPage(t, browser(t), e.authURL(p)); resp.StatusCode != http.StatusOK {
			t.Fatalf("authorize: %d %s", resp.StatusCode, body)
		}
	}
	expect := func(path string, want int) {
		t.Helper()
		if n := d.hitCount(path); n != want {
			t.Fatalf("%s fetched %d times, want %d", path, n, want)
		}
	}
	a := d.publish("/a", goodDoc(e), map[string]string{"Cache-Control": "public, max-age=60"})
	long := d.publish("/long", goodDoc(e), map[string]string{"Cache-Control": "max-age=31536000"})
	nostore := d.publish("/nostore", goodDoc(e), map[string]string{"Cache-Control": "no-store"})
	open(a)
	open(a)
	open(long)
	open(nostore)
	open(nostore)
	expect("/a", 1)
	expect("/long", 1)
	expect("/nostore", 1)
	e.clock.Advance(61 * time.Second)
	open(a)
	expect("/a", 2)
	open(nostore)
	expect("/nostore", 2)
	e.clock.Advance(23 * time.Hour)
	open(long)
	expect("/long", 1)
	e.clock.Advance(time.Hour)
	open(long)
	expect("/long", 2) // a year asked, 24 h kept
}

func TestCacheTTL(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		h    map[string]string
		want time.Duration
	}{
		{nil, defaultDocTTL},
		{map[string]string{"Cache-Control": "max-age=300"}, 5 * time.Minute},
		{map[string]string{"Cache-Control": "public, max-age=\"120\""}, 2 * time.Minute},
		{map[string]string{"Cache-Control": "max-age=999999999"}, maxDocTTL},
		{map[string]string{"Cache-Control": "no-store"}, 0},
		{map[string]string{"Cache-Control": "max-age=60, no-cache"}, 0},
		{map[string]string{"Cache-Control": "max-age=-1"}, 0},
		{map[string]string{"Expires": now.Add(time.Hour).Format(http.TimeFormat), "Date": now.Format(http.TimeFormat)}, time.Hour},
		{map[string]string{"Expires": now.Add(48 * time.Hour).Format(http.TimeFormat)}, maxDocTTL},
		{map[string]string{"Expires": "0"}, 0},
		{map[string]string{"Expires": now.Add(time.Hour).Format(http.TimeFormat), "Cache-Control": "max-age=10"}, 10 * time.Second},
	} {
		h := http.Header{}
		for k, v := range c.h {
			h.Set(k, v)
		}
		if got := cacheTTL(h, now); got != c.want {
			t.Errorf("%v: %v, want %v", c.h, got, c.want)
		}
	}
}

// TestCIMDDisabled: with DisableCIMD a URL client id is refused everywhere
// and the metadata does not advertise documents; tokens issued before stop
// working.
func TestCIMDDisabled(t *testing.T) {
	d := newDocServer(t)
	e := cimdEnv(t, d, nil)
	id := d.publish("/c.json", goodDoc(e), nil)
	tok := e.tokenFor(t, e.config(id, "", oauth2.AuthStyleInParams))
	e.mustVerify(t, tok.AccessToken)
	if e.srv.asMetadata()["client_id_metadata_document_supported"] != true {
		t.Fatal("metadata does not advertise client_id_metadata_document_supported")
	}

	e.opts.DisableCIMD = true
	e.restart()
	e.mustNotVerify(t, tok.AccessToken)
	if _, ok := e.srv.asMetadata()["client_id_metadata_document_supported"]; ok {
		t.Fatal("metadata advertises documents while they are off")
	}
	p := validParams(e, oauth2.GenerateVerifier())
	p.Set("client_id", id)
	resp, page := getPage(t, browser(t), e.authURL(p))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "turned off") {
		t.Fatalf("%d %s", resp.StatusCode, page)
	}
	st, m, _ := e.postForm(t, "/token", [2]string{}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {id}})
	if st != http.StatusUnauthorized || m["error"] != "invalid_client" {
		t.Fatalf("/token: %d %v", st, m)
	}
}

// TestMetadataAdvertisesCIMD: what Claude.ai checks before using CIMD, on
// the wire.
func TestMetadataAdvertisesCIMD(t *testing.T) {
	e := newEnv(t, nil)
	resp, err := http.Get(e.issuer + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Supported bool     `json:"client_id_metadata_document_supported"`
		Methods   []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if !m.Supported || !strings.Contains(strings.Join(m.Methods, " "), "none") {
		t.Fatalf("metadata: %+v", m)
	}
}

func TestNewRefusesBadCIMDOptions(t *testing.T) {
	db := filepath.Join(t.TempDir(), "o.db")
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	for name, o := range map[string]Options{
		"missing CA file": {CIMDCAFile: filepath.Join(t.TempDir(), "none.pem")},
		"CA file not PEM": {CIMDCAFile: bad},
		"URL static id":   {ClientID: "https://a.example/c.json", ClientSecret: "s"},
	} {
		o.IssuerURL, o.DBPath, o.Approval = "https://example.com/mcp", db, ApprovalAuto
		if s, err := New(context.Background(), o); err == nil {
			s.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

// A document's values echoed in its refusal are clipped to 200 bytes (60
// for the auth method), never in the middle of a character.
func TestDocumentRefusalClipsEchoedValues(t *testing.T) {
	const id = "https://app.example/oauth/client.json"
	long := strings.Repeat("a", 199) + "é" + strings.Repeat("z", 100) // é spans bytes 199-200
	for _, c := range []struct{ body, want string }{
		{`{"client_id":"` + long + `"}`, `its client_id ("` + strings.Repeat("a", 199) + `\u2026") is not the URL it was fetched from`},
		{`{"client_id":"` + id + `","token_endpoint_auth_method":"` + strings.Repeat("m", 70) + `"}`,
			`its token_endpoint_auth_method is "` + strings.Repeat("m", 60) + `\u2026"; only none (a public client with PKCE) is supported`},
		{`{"client_id":"` + id + `","redirect_uris":["http://evil.example/` + long + `"]}`,
			`its redirect URI "http://evil.example/` + strings.Repeat("a", 180) + `\u2026" is rejected: ` + validateRedirectURI("http://evil.example/").Error()},
	} {
		if _, err := parseClientDocument(id, []byte(c.body)); err == nil || err.Error() != c.want {
			t.Errorf("%.60s…: %v, want %q", c.body, err, c.want)
		}
	}
}
