package oauth

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/servagent/servagent/pkg/ratelimit"
	"github.com/servagent/servagent/pkg/secret"
	"github.com/servagent/servagent/pkg/textutil"
)

const maxStateLen = 2048

// maxApprovalFormBytes fits the signed request (state, redirect URI and
// client id, percent-encoded, in base64) besides the other fields.
const maxApprovalFormBytes = 64 << 10

// challengeRe is an S256 code challenge: base64url of 32 bytes.
var challengeRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`) })

var hexRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{64}$`) })

// authRequest is a validated authorization request.
type authRequest struct {
	client *clientRow
	grant
}

// grant is what an authorization code is issued for; an approval page
// carries it from the request to the operator's answer.
type grant struct {
	redirectURI   string
	redirectGiven bool
	state         string
	challenge     string
	scope         string
	resource      string
}

// pageMsg is an error shown on the error page. Code, when set, is shown in
// <code> between Text and Tail: a client-supplied URL is never mixed into
// the sentence.
type pageMsg struct {
	Text, Code, Tail string
	status           int // 0: 400
}

func msgf(text string) *pageMsg { return &pageMsg{Text: text} }

// redirectError is an error sent back to the client's (validated) redirect URI.
type redirectError struct {
	code, desc string
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	setPageHeaders(w, "")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.authorizeGet(w, r)
	case http.MethodPost:
		s.authorizePost(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, http.StatusMethodNotAllowed, "Use GET to start an authorization.")
	}
}

// parseAuthRequest validates the query of GET /mcp/authorize. A userError
// means the redirect URI could not be trusted and the error must be shown
// here; a redirectError may be sent to the client.
func (s *Server) parseAuthRequest(ctx context.Context, q url.Values) (req *authRequest, userError *pageMsg, rerr *redirectError) {
	req, userError = s.parseAuthClient(ctx, q)
	if userError != nil {
		return nil, userError, nil
	}
	// From here on errors go back to the client.
	if rerr := s.checkAuthParams(req, q); rerr != nil {
		return req, nil, rerr
	}
	return req, nil, nil
}

// parseAuthClient finds the client and the redirect URI of an
// authorization request: the part whose errors cannot be redirected.
func (s *Server) parseAuthClient(ctx context.Context, q url.Values) (*authRequest, *pageMsg) {
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "code_challenge", "code_challenge_method", "state", "scope"} {
		if len(q[k]) > 1 {
			return nil, msgf("The authorization request repeats the parameter " + k + ".")
		}
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		return nil, msgf("The authorization request has no client_id.")
	}
	c, userError := s.lookupAuthClient(ctx, clientID)
	if userError != nil {
		return nil, userError
	}
	registered := c.redirectURIs()
	req := &authRequest{client: c, grant: grant{redirectURI: q.Get("redirect_uri")}}
	if req.redirectURI == "" {
		// Allowed only when the choice is unambiguous (OAuth 2.1 §4.1.1).
		if len(registered) != 1 || c.Static {
			return nil, msgf("The authorization request has no redirect_uri.")
		}
		req.redirectURI = registered[0]
	} else {
		req.redirectGiven = true
		// A document's redirect URIs are used exactly (no loopback port
		// leeway): the document is all that vouches for them.
		if c.Document && !slices.Contains(registered, req.redirectURI) {
			return nil, &pageMsg{Text: "The redirect_uri is not listed in the client's metadata document at ", Code: clientID, Tail: "."}
		}
		if !redirectMatches(registered, req.redirectURI, c.Static) {
			return nil, msgf("The redirect_uri is not registered for this client.")
		}
	}
	if _, err := url.Parse(req.redirectURI); err != nil {
		return nil, msgf("The redirect_uri is not a valid URI.")
	}
	return req, nil
}

// checkAuthParams validates the rest of the request into req: state,
// response type, PKCE, resource and scope.
func (s *Server) checkAuthParams(req *authRequest, q url.Values) *redirectError {
	req.state = q.Get("state")
	if len(req.state) > maxStateLen {
		req.state = ""
		return &redirectError{"invalid_request", "state is too long"}
	}
	if q.Get("response_type") != "code" {
		return &redirectError{"unsupported_response_type", `only response_type=code is supported`}
	}
	req.challenge = q.Get("code_challenge")
	if req.challenge == "" {
		return &redirectError{"invalid_request", "code_challenge is required (PKCE with S256)"}
	}
	if q.Get("code_challenge_method") != "S256" {
		return &redirectError{"invalid_request", "code_challenge_method must be S256"}
	}
	if !challengeRe().MatchString(req.challenge) {
		return &redirectError{"invalid_request", "code_challenge is not a valid S256 challenge"}
	}
	req.resource = s.resource
	for _, res := range q["resource"] {
		if !sameResource(res, s.resource) {
			return &redirectError{"invalid_target", "resource must be " + s.resource}
		}
	}
	c := req.client
	scope, rerr := grantScope(c, q.Get("scope"))
	if rerr != nil {
		return rerr
	}
	req.scope = scope
	if !slices.Contains(strings.Fields(c.ResponseTypes), "code") || !slices.Contains(strings.Fields(c.GrantTypes), "authorization_code") {
		return &redirectError{"unauthorized_client", "this client may not use the authorization code flow"}
	}
	return nil
}

// grantScope grants the requested scopes this client may have; unknown
// ones are dropped (the token response says what was granted).
func grantScope(c *clientRow, scope string) (string, *redirectError) {
	allowed := splitScope(c.Scope)
	if len(allowed) == 0 {
		allowed = supportedScopes
	}
	requested := requestedScopes(scope)
	if len(requested) == 0 {
		return strings.Join(allowed, " "), nil
	}
	var granted []string
	for _, sc := range requested {
		if slices.Contains(allowed, sc) && !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	if len(granted) == 0 {
		return "", &redirectError{"invalid_scope", "supported scopes: " + strings.Join(allowed, " ")}
	}
	return strings.Join(granted, " "), nil
}

// lookupAuthClient finds the client of an authorization request: in the
// database, or for a URL client id from its metadata document.
func (s *Server) lookupAuthClient(ctx context.Context, clientID string) (*clientRow, *pageMsg) {
	if isURLClientID(clientID) {
		if s.docs == nil {
			return nil, msgf("This server does not accept URL client ids: client ID metadata documents are turned off (SERVAGENT_OAUTH_CIMD).")
		}
		if err := validateDocURL(clientID); err != nil {
			// Not echoed: the id itself is what is wrong.
			return nil, msgf("The client_id cannot be used: " + err.Error() + ".")
		}
		c, err := s.docs.get(ctx, clientID, nil)
		if errors.Is(err, errDocBusy) {
			return nil, &pageMsg{Text: "This server is fetching too many client metadata documents right now. Try again in a few seconds.", status: http.StatusServiceUnavailable}
		}
		if err != nil {
			s.log.Warn("client metadata document refused", "client_id", textutil.ClipBytes(clientID, 200), "err", err)
			return nil, &pageMsg{Text: "The client's metadata document at ", Code: clientID, Tail: " cannot be used: " + err.Error() + "."}
		}
		return c, nil
	}
	if len(clientID) > 128 {
		return nil, msgf("Unknown client.")
	}
	var c clientRow
	if err := s.db.WithContext(ctx).Where("id = ?", clientID).Take(&c).Error; err != nil {
		return nil, msgf("Unknown client.")
	}
	return &c, nil
}

func (s *Server) authorizeGet(w http.ResponseWriter, r *http.Request) {
	if !s.authzGet.Allow(limitKey(r), s.now()) {
		w.Header().Set("Retry-After", "60")
		s.errorPage(w, http.StatusTooManyRequests, "Too many authorization requests from your address. Wait a minute, then start again from your client.")
		return
	}
	req, userErr, rerr := s.parseAuthRequest(r.Context(), r.URL.Query())
	if userErr != nil {
		s.errorPageMsg(w, userErr)
		return
	}
	if rerr != nil {
		s.redirect(w, r, req.redirectURI, http.StatusFound, url.Values{
			"error": {rerr.code}, "error_description": {rerr.desc}, "state": {req.state}})
		return
	}
	// Auto approval only for confidential clients: a public client's id is
	// all it takes to run its flow, so it would be a bearer credential for
	// anyone who learns it.
	if s.opts.Approval == ApprovalAuto && req.client.confidential() {
		s.issueCodeAndRedirect(w, r, req, http.StatusFound)
		return
	}
	if s.opts.ApprovalSecret == "" {
		// Auto mode without a secret: an approval page would accept anyone.
		s.errorPage(w, http.StatusForbidden, "This client needs the operator's approval, and this server has no approval secret. Use a confidential client, or set an approval secret.")
		return
	}
	browser := ""
	if ck, err := r.Cookie(s.cookieName()); err == nil && hexRe().MatchString(ck.Value) {
		browser = ck.Value
	} else {
		browser = secret.NewHex(32)
	}
	p := &pendingAuth{
		nonce:    secret.NewHex(16),
		clientID: req.client.ID, clientName: req.client.Name, document: req.client.Document,
		grant:   req.grant,
		expires: s.now().Add(pendingTTL),
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(), Value: browser, Path: "/", HttpOnly: true, Secure: s.secure,
		// Lax: the first GET arrives by a cross-site navigation from the
		// client; the POST comes from our own page.
		SameSite: http.SameSiteLaxMode, MaxAge: int(pendingTTL.Seconds()) * 3,
	})
	s.approvalPage(w, http.StatusOK, p, browser, "")
}

func (s *Server) authorizePost(w http.ResponseWriter, r *http.Request) {
	if !s.parseApprovalForm(w, r) {
		return
	}
	now := s.now()
	p, browser, ok := s.openApproval(w, r, now)
	if !ok {
		return
	}
	if r.PostForm.Get("action") == "deny" {
		s.denyApproval(w, r, p, now)
		return
	}
	if !s.checkApprovalSecret(w, r, p, browser, now) {
		return
	}
	if !s.answered.add(p.nonce, p.expires, true, now) {
		s.errorPage(w, http.StatusBadRequest, "This authorization request was already answered.")
		return
	}
	s.log.Info("authorization approved by the operator", "client_id", p.clientID)
	s.issueCodeAndRedirect(w, r, &authRequest{client: &clientRow{ID: p.clientID}, grant: p.grant}, http.StatusSeeOther)
}

// parseApprovalForm reads the bounded form body of the approval page; false
// means an error page was written.
func (s *Server) parseApprovalForm(w http.ResponseWriter, r *http.Request) bool {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		s.errorPage(w, http.StatusBadRequest, "Unexpected form submission.")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxApprovalFormBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "Unexpected form submission.")
		return false
	}
	return true
}

// openApproval verifies the signed pending request of an approval form
// with its cookie and CSRF field; !ok means an error page was written.
func (s *Server) openApproval(w http.ResponseWriter, r *http.Request, now time.Time) (p *pendingAuth, browser string, ok bool) {
	field := r.PostForm.Get("request_id")
	if !strings.Contains(field, ".") {
		s.errorPage(w, http.StatusBadRequest, "This authorization request is unknown or has expired. Start again from your client.")
		return nil, "", false
	}
	// The signed request, the cookie and the hidden CSRF field must all
	// belong together: a cross-site form cannot know the field, and a page
	// opened in another browser lacks the cookie.
	if ck, err := r.Cookie(s.cookieName()); err == nil {
		browser = ck.Value
	}
	p, err := s.openPending(field, browser)
	csrf := r.PostForm.Get("csrf_token")
	if err != nil || browser == "" || csrf == "" || !secret.Equal(csrf, s.csrfFor(p.nonce, browser)) {
		s.errorPage(w, http.StatusForbidden, "The form could not be verified (missing or invalid CSRF token). Reload the page from your client and try again.")
		return nil, "", false
	}
	if !now.Before(p.expires) {
		s.errorPage(w, http.StatusBadRequest, "This authorization request is unknown or has expired. Start again from your client.")
		return nil, "", false
	}
	return p, browser, true
}

// denyApproval answers a pending request with access_denied.
func (s *Server) denyApproval(w http.ResponseWriter, r *http.Request, p *pendingAuth, now time.Time) {
	if !s.answered.add(p.nonce, p.expires, false, now) {
		s.errorPage(w, http.StatusBadRequest, "This authorization request was already answered.")
		return
	}
	s.log.Info("authorization denied by the operator", "client_id", p.clientID)
	s.redirect(w, r, p.redirectURI, http.StatusSeeOther, url.Values{
		"error": {"access_denied"}, "error_description": {"the operator denied the request"}, "state": {p.state}})
}

// checkApprovalSecret compares the submitted approval secret under the
// attempt limits; false means a page was written.
func (s *Server) checkApprovalSecret(w http.ResponseWriter, r *http.Request, p *pendingAuth, browser string, now time.Time) bool {
	key := limitKey(r)
	tooMany := func() bool {
		w.Header().Set("Retry-After", "60")
		s.errorPage(w, http.StatusTooManyRequests, "Too many approval attempts. Wait a minute, then reload the page from your client.")
		return false
	}
	// Wrong secrets are limited per page (so one page cannot be brute
	// forced) and, more loosely, per address (so opening pages does not buy
	// more guesses): another client's failures on its own page leave the
	// operator a few tries. Count before comparing, so parallel guesses
	// cannot all pass the check; a success gives them back.
	if !s.approvePage.Allowed(p.nonce, now) || !s.approve.Allowed(key, now) {
		return tooMany()
	}
	if !s.approve.Allow(key, now) {
		return tooMany()
	}
	if !s.approvePage.Allow(p.nonce, now) {
		s.approve.Refund(key)
		return tooMany()
	}
	if s.opts.ApprovalSecret == "" || !secret.Equal(r.PostForm.Get("secret"), s.opts.ApprovalSecret) {
		s.log.Warn("wrong approval secret", "client_id", p.clientID, "remote", clientIP(r))
		s.approvalPage(w, http.StatusForbidden, p, browser, "Wrong secret. No authorization was given.")
		return false
	}
	s.approve.Refund(key)
	s.approvePage.Refund(p.nonce)
	return true
}

func (s *Server) issueCodeAndRedirect(w http.ResponseWriter, r *http.Request, req *authRequest, status int) {
	code := "sac_" + secret.NewKey()
	row := codeRow{
		Hash: secret.Hash(code), ClientID: req.client.ID, GrantID: secret.NewHex(16),
		RedirectURI: req.redirectURI, RedirectGiven: req.redirectGiven,
		Challenge: req.challenge, Scope: req.scope, Resource: req.resource,
		ExpiresAt: s.now().Add(codeTTL).Unix(),
	}
	if err := s.db.WithContext(r.Context()).Create(&row).Error; err != nil {
		s.log.Error("storing an authorization code", "err", err)
		s.redirect(w, r, req.redirectURI, status, url.Values{
			"error": {"server_error"}, "error_description": {"storage error"}, "state": {req.state}})
		return
	}
	s.redirect(w, r, req.redirectURI, status, url.Values{"code": {code}, "state": {req.state}})
}

// redirect sends the browser to a validated redirect URI with params added
// to its query, plus iss (RFC 9207). Empty values are left out.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, redirectURI string, status int, params url.Values) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "The redirect_uri is not a valid URI.")
		return
	}
	add := url.Values{}
	for k, vs := range params {
		if len(vs) > 0 && vs[0] != "" {
			add.Set(k, vs[0])
		}
	}
	add.Set("iss", s.issuer)
	// Append, so that the client's own query stays byte for byte as
	// registered (RFC 6749 §3.1.2 keeps the query component).
	if u.RawQuery != "" {
		u.RawQuery += "&" + add.Encode()
	} else {
		u.RawQuery = add.Encode()
	}
	w.Header().Set("Location", u.String())
	w.WriteHeader(status)
}

func (s *Server) cookieName() string {
	if s.secure {
		// __Host-: only settable over https, for this host, on path /.
		return "__Host-servagent_oauth"
	}
	return "servagent_oauth"
}

// clientIP is the address limits count on: the peer, or the client a
// trusted proxy forwarded (resolved once by the server, see ratelimit).
func clientIP(r *http.Request) string { return ratelimit.ClientAddr(r) }

// limitKey is what per-address limits count on: the client address, an
// IPv6 one cut to its /64 (what one subscriber usually gets, so that
// walking through its own addresses buys nothing).
func limitKey(r *http.Request) string { return addrKey(clientIP(r)) }

func addrKey(addr string) string { return ratelimit.AddrKey(addr) }
