package oauth

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// A code or refresh token is looked up by its hash among rows of its own
// kind and must belong to the client presenting it. Another client's
// attempt is refused without burning it, so its owner can still use it.
func TestGrantLookup(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.staticConfig()
	tok := e.tokenFor(t, cfg)
	v := oauth2.GenerateVerifier()
	code := e.codeFor(t, cfg, v)
	id, sec := e.registerClient(t, "client_secret_basic")
	other := [2]string{id, sec}
	codeGrant := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {v}, "redirect_uri": {e.callbackURL()}}
	}
	refreshGrant := func(rt string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	}
	for _, c := range []struct {
		name  string
		creds [2]string
		form  url.Values
		desc  string
	}{
		{"another client's code", other, codeGrant(code), unknownCode}, // no hint that it exists
		{"another client's refresh token", other, refreshGrant(tok.RefreshToken), unknownRefresh},
		{"an access token as refresh token", staticCreds, refreshGrant(tok.AccessToken), unknownRefresh},
		{"a refresh token as code", staticCreds, codeGrant(tok.RefreshToken), unknownCode},
		{"an unknown refresh token", staticCreds, refreshGrant("x" + tok.RefreshToken), unknownRefresh},
		{"an unknown code", staticCreds, codeGrant("x" + code), unknownCode},
	} {
		st, m, _ := e.postForm(t, "/token", c.creds, c.form)
		if st != http.StatusBadRequest || m["error"] != "invalid_grant" || m["error_description"] != c.desc {
			t.Errorf("%s: %d %v, want 400 invalid_grant %q", c.name, st, m, c.desc)
		}
	}
	if st, m, _ := e.postForm(t, "/token", staticCreds, codeGrant(code)); st != http.StatusOK || m["access_token"] == nil {
		t.Errorf("the owner's code after another client tried it: %d %v", st, m)
	}
	if st, m := e.operatorRefresh(t, tok.RefreshToken); st != http.StatusOK || m["refresh_token"] == nil {
		t.Errorf("the owner's refresh token after another client tried it: %d %v", st, m)
	}
}
