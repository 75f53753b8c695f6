package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"
)

// forwardedAs sets X-Forwarded-For on every request.
type forwardedAs string

func (x forwardedAs) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", string(x))
	return http.DefaultTransport.RoundTrip(r)
}

// With SERVAGENT_ALLOWED_HOSTS but no SERVAGENT_TRUSTED_PROXIES, a local
// peer that claims a new X-Forwarded-For for each approval page still
// counts its approval-secret guesses on its own address: 20 a minute,
// then 429.
func TestApprovalGuessesFromLoopbackIgnoreForwardedFor(t *testing.T) {
	inst := startOAuth(t, staticOAuth{clientID: opClientID, approval: "operator", approvalSecret: "operator-pw", allowHost: true})
	sum := sha256.Sum256([]byte("verifier-verifier-verifier-verifier-verifier-0123"))
	authURL := inst.URL + "/mcp/authorize?" + url.Values{"response_type": {"code"}, "client_id": {opClientID}, "redirect_uri": {"http://127.0.0.1:9/cb"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}, "state": {"s"}, "resource": {inst.URL + "/mcp"}}.Encode()
	reqRe := regexp.MustCompile(`name="request_id" value="([^"]*)"`)
	csrfRe := regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	answered, limited := 0, 0
	for page := 0; page < 6; page++ {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Transport: forwardedAs(fmt.Sprintf("198.18.0.%d", page+1)),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m1, m2 := reqRe.FindStringSubmatch(string(b)), csrfRe.FindStringSubmatch(string(b))
		if m1 == nil || m2 == nil {
			t.Fatalf("approval page %d: %d %.300s", page, resp.StatusCode, b)
		}
		for g := 0; g < 5; g++ {
			resp, err := c.PostForm(inst.URL+"/mcp/authorize", url.Values{"request_id": {html.UnescapeString(m1[1])}, "csrf_token": {html.UnescapeString(m2[1])},
				"secret": {fmt.Sprintf("guess-%d-%d", page, g)}, "action": {"approve"}})
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 429 {
				limited++
			} else {
				answered++
			}
		}
	}
	if answered > 20 || limited == 0 {
		t.Errorf("30 approval-secret guesses from one loopback peer rotating X-Forwarded-For: %d checked, %d refused with 429; want at most 20 checked", answered, limited)
	}
}
