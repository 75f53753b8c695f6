package oauth

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// The issuer URL is checked by netname.IssuerURL, the check config applies
// to SERVAGENT_OAUTH_ISSUER_URL: the same URLs pass, and New's error names
// the URL and says what was expected.
func TestNewChecksTheIssuerURL(t *testing.T) {
	dir := t.TempDir()
	for i, in := range []string{"https://example.com/mcp/", "http://127.0.0.1:8765/mcp", "http://[::1]:8765/mcp", "http://localhost/a/mcp"} {
		s, err := New(context.Background(), Options{IssuerURL: in, DBPath: filepath.Join(dir, string(rune('a'+i))+".db"), Approval: ApprovalAuto})
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if want := strings.TrimSuffix(in, "/"); s.issuer != want || s.resource != want {
			t.Errorf("%s: issuer %q, resource %q, want %q", in, s.issuer, s.resource, want)
		}
		s.Close()
	}
	for in, why := range map[string]string{
		"example.com/mcp": "absolute", "https://example.com/": "ends in /mcp", "http://example.com/mcp": "https",
		"http://127.0.0.1]:80/mcp": "https", "https://example.com/mcp?x=1": "query", "https://example.com/mcp#f": "fragment",
	} {
		s, err := New(context.Background(), Options{IssuerURL: in, DBPath: filepath.Join(dir, "x.db"), Approval: ApprovalAuto})
		if err == nil {
			s.Close()
			t.Errorf("%s: accepted", in)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "issuer URL \""+in+"\"") || !strings.Contains(msg, why) {
			t.Errorf("%s: %q, want the URL and %q", in, msg, why)
		}
	}
}

// Plain http redirect URIs are loopback ones only, and a loopback host is
// exact: a bracketed IPv6 literal passes, a stray bracket that
// url.URL.Hostname keeps does not.
func TestLoopbackRedirectHosts(t *testing.T) {
	for raw, ok := range map[string]bool{
		"http://127.0.0.1/cb": true, "http://[::1]:8080/cb": true, "http://localhost/cb": true,
		"http://127.0.0.1]/cb": false, "http://127.0.0.1]:8080/cb": false, "http://127.0.0.2.example/cb": false,
	} {
		if err := validateRedirectURI(raw); (err == nil) != ok {
			t.Errorf("validateRedirectURI(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
	for _, c := range []struct {
		registered, requested string
		ok                    bool
	}{
		{"http://[::1]/cb", "http://[::1]:5555/cb", true},
		{"http://127.0.0.1/cb", "http://127.0.0.1:5555/cb", true},
		{"http://127.0.0.1/cb", "http://127.0.0.1]:5555/cb", false},
		{"http://127.0.0.1/cb", "http://127.0.0.2:5555/cb", false},
	} {
		if got := redirectMatches([]string{c.registered}, c.requested, false); got != c.ok {
			t.Errorf("redirectMatches(%q, %q) = %v", c.registered, c.requested, got)
		}
	}
}

// A redirect URI refused in the options or in a metadata document names it
// and wraps the reason validateRedirectURI gave, with the text unchanged.
func TestRejectedRedirectURIsWrapTheReason(t *testing.T) {
	const bad = "http://evil.example/cb"
	reason := validateRedirectURI(bad)
	if reason == nil {
		t.Fatal("validateRedirectURI accepted " + bad)
	}
	_, err := New(context.Background(), Options{IssuerURL: "https://example.com/mcp", DBPath: filepath.Join(t.TempDir(), "o.db"),
		Approval: ApprovalAuto, ExtraRedirectURIs: []string{bad}})
	if want := `extra redirect URI "` + bad + `": ` + reason.Error(); err == nil || err.Error() != want {
		t.Errorf("New: %v, want %q", err, want)
	} else if u := errors.Unwrap(err); u == nil || u.Error() != reason.Error() {
		t.Errorf("New's error wraps %v, want %v", u, reason)
	}

	const id = "https://app.example/oauth/client.json"
	_, err = parseClientDocument(id, []byte(`{"client_id":"`+id+`","redirect_uris":["`+bad+`"]}`))
	var de *docError
	if want := `its redirect URI "` + bad + `" is rejected: ` + reason.Error(); !errors.As(err, &de) || err.Error() != want {
		t.Errorf("document: %T %v, want a docError %q", err, err, want)
	} else if u := errors.Unwrap(errors.Unwrap(err)); u == nil || u.Error() != reason.Error() {
		t.Errorf("the document's error wraps %v, want %v", u, reason)
	}
}
