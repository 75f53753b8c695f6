package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/servagent/servagent/pkg/ratelimit"
	"github.com/servagent/servagent/pkg/secret"
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
	client        *clientRow
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
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "code_challenge", "code_challenge_method", "state", "scope"} {
		if len(q[k]) > 1 {
			return nil, msgf("The authorization request repeats the parameter " + k + "."), nil
		}
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		return nil, msgf("The authorization request has no client_id."), nil
	}
	c, userError := s.lookupAuthClient(ctx, clientID)
	if userError != nil {
		return nil, userError, nil
	}
	registered := c.redirectURIs()
	req = &authRequest{client: c, redirectURI: q.Get("redirect_uri")}
	if req.redirectURI == "" {
		// Allowed only when the choice is unambiguous (OAuth 2.1 §4.1.1).
		if len(registered) != 1 || c.Static {
			return nil, msgf("The authorization request has no redirect_uri."), nil
		}
		req.redirectURI = registered[0]
	} else {
		req.redirectGiven = true
		// A document's redirect URIs are used exactly (no loopback port
		// leeway): the document is all that vouches for them.
		if c.Document && !slices.Contains(registered, req.redirectURI) {
			return nil, &pageMsg{Text: "The redirect_uri is not listed in the client's metadata document at ", Code: clientID, Tail: "."}, nil
		}
		if !redirectMatches(registered, req.redirectURI, c.Static) {
			return nil, msgf("The redirect_uri is not registered for this client."), nil
		}
	}
	if _, err := url.Parse(req.redirectURI); err != nil {
		return nil, msgf("The redirect_uri is not a valid URI."), nil
	}

	// From here on errors go back to the client.
	req.state = q.Get("state")
	if len(req.state) > maxStateLen {
		req.state = ""
		return req, nil, &redirectError{"invalid_request", "state is too long"}
	}
	if q.Get("response_type") != "code" {
		return req, nil, &redirectError{"unsupported_response_type", `only response_type=code is supported`}
	}
	req.challenge = q.Get("code_challenge")
	if req.challenge == "" {
		return req, nil, &redirectError{"invalid_request", "code_challenge is required (PKCE with S256)"}
	}
	if q.Get("code_challenge_method") != "S256" {
		return req, nil, &redirectError{"invalid_request", "code_challenge_method must be S256"}
	}
	if !challengeRe().MatchString(req.challenge) {
		return req, nil, &redirectError{"invalid_request", "code_challenge is not a valid S256 challenge"}
	}
	req.resource = s.resource
	for _, res := range q["resource"] {
		if !sameResource(res, s.resource) {
			return req, nil, &redirectError{"invalid_target", "resource must be " + s.resource}
		}
	}
	// Grant the requested scopes this client may have; unknown ones are
	// dropped (the token response says what was granted).
	allowed := splitScope(c.Scope)
	if len(allowed) == 0 {
		allowed = supportedScopes
	}
	requested := requestedScopes(q.Get("scope"))
	if len(requested) == 0 {
		req.scope = strings.Join(allowed, " ")
	} else {
		var granted []string
		for _, sc := range requested {
			if slices.Contains(allowed, sc) && !slices.Contains(granted, sc) {
				granted = append(granted, sc)
			}
		}
		if len(granted) == 0 {
			return req, nil, &redirectError{"invalid_scope", "supported scopes: " + strings.Join(allowed, " ")}
		}
		req.scope = strings.Join(granted, " ")
	}
	if !slices.Contains(strings.Fields(c.ResponseTypes), "code") || !slices.Contains(strings.Fields(c.GrantTypes), "authorization_code") {
		return req, nil, &redirectError{"unauthorized_client", "this client may not use the authorization code flow"}
	}
	return req, nil, nil
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
			s.log.Warn("client metadata document refused", "client_id", truncate(clientID, 200), "err", err)
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
		redirectURI: req.redirectURI, redirectGiven: req.redirectGiven,
		state: req.state, challenge: req.challenge, scope: req.scope, resource: req.resource,
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
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		s.errorPage(w, http.StatusBadRequest, "Unexpected form submission.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxApprovalFormBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "Unexpected form submission.")
		return
	}
	now := s.now()
	key := limitKey(r)
	tooMany := func() {
		w.Header().Set("Retry-After", "60")
		s.errorPage(w, http.StatusTooManyRequests, "Too many approval attempts. Wait a minute, then reload the page from your client.")
	}
	field := r.PostForm.Get("request_id")
	if !strings.Contains(field, ".") {
		s.errorPage(w, http.StatusBadRequest, "This authorization request is unknown or has expired. Start again from your client.")
		return
	}
	// The signed request, the cookie and the hidden CSRF field must all
	// belong together: a cross-site form cannot know the field, and a page
	// opened in another browser lacks the cookie.
	browser := ""
	if ck, err := r.Cookie(s.cookieName()); err == nil {
		browser = ck.Value
	}
	p, err := s.openPending(field, browser)
	csrf := r.PostForm.Get("csrf_token")
	if err != nil || browser == "" || csrf == "" || !secret.Equal(csrf, s.csrfFor(p.nonce, browser)) {
		s.errorPage(w, http.StatusForbidden, "The form could not be verified (missing or invalid CSRF token). Reload the page from your client and try again.")
		return
	}
	if !now.Before(p.expires) {
		s.errorPage(w, http.StatusBadRequest, "This authorization request is unknown or has expired. Start again from your client.")
		return
	}
	if r.PostForm.Get("action") == "deny" {
		if !s.answered.add(p.nonce, p.expires, false, now) {
			s.errorPage(w, http.StatusBadRequest, "This authorization request was already answered.")
			return
		}
		s.log.Info("authorization denied by the operator", "client_id", p.clientID)
		s.redirect(w, r, p.redirectURI, http.StatusSeeOther, url.Values{
			"error": {"access_denied"}, "error_description": {"the operator denied the request"}, "state": {p.state}})
		return
	}
	// Wrong secrets are limited per page (so one page cannot be brute
	// forced) and, more loosely, per address (so opening pages does not buy
	// more guesses): another client's failures on its own page leave the
	// operator a few tries. Count before comparing, so parallel guesses
	// cannot all pass the check; a success gives them back.
	if !s.approvePage.Allowed(p.nonce, now) || !s.approve.Allowed(key, now) {
		tooMany()
		return
	}
	if !s.approve.Allow(key, now) {
		tooMany()
		return
	}
	if !s.approvePage.Allow(p.nonce, now) {
		s.approve.Refund(key)
		tooMany()
		return
	}
	if s.opts.ApprovalSecret == "" || !secret.Equal(r.PostForm.Get("secret"), s.opts.ApprovalSecret) {
		s.log.Warn("wrong approval secret", "client_id", p.clientID, "remote", clientIP(r))
		s.approvalPage(w, http.StatusForbidden, p, browser, "Wrong secret. No authorization was given.")
		return
	}
	s.approve.Refund(key)
	s.approvePage.Refund(p.nonce)
	if !s.answered.add(p.nonce, p.expires, true, now) {
		s.errorPage(w, http.StatusBadRequest, "This authorization request was already answered.")
		return
	}
	s.log.Info("authorization approved by the operator", "client_id", p.clientID)
	s.issueCodeAndRedirect(w, r, &authRequest{
		client: &clientRow{ID: p.clientID}, redirectURI: p.redirectURI, redirectGiven: p.redirectGiven,
		state: p.state, challenge: p.challenge, scope: p.scope, resource: p.resource,
	}, http.StatusSeeOther)
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

// setPageHeaders makes a response uncachable, unframable and unable to run
// scripts or load anything; formOrigin is added to form-action because
// browsers apply it to the redirect that follows the form POST.
func setPageHeaders(w http.ResponseWriter, formOrigin string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	formAction := "'self'"
	if formOrigin != "" {
		formAction += " " + formOrigin
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src "+pageStyleHash+"; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
}

var cspOriginRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z][a-z0-9+.-]*://[A-Za-z0-9.\-\[\]:]+$|^[a-z][a-z0-9+.-]*:$`)
})

// cspFormOrigin is the origin of a redirect URI in CSP source syntax, or ""
// if it cannot be expressed safely.
func cspFormOrigin(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return ""
	}
	var o string
	if u.Host != "" {
		o = strings.ToLower(u.Scheme) + "://" + u.Host
	} else {
		o = strings.ToLower(u.Scheme) + ":"
	}
	if !cspOriginRe().MatchString(o) {
		return ""
	}
	return o
}

type pageData struct {
	Title        string
	Error        string
	ClientName   string
	ClientID     string
	DocHost      string // host of a metadata document's URL
	RedirectHost string
	Scope        string
	Action       string
	RequestID    string
	CSRF         string
	Message      string
	MessageCode  string // shown in <code> after Message
	MessageTail  string
}

func (s *Server) approvalPage(w http.ResponseWriter, status int, p *pendingAuth, browser, errMsg string) {
	setPageHeaders(w, cspFormOrigin(p.redirectURI))
	host := p.redirectURI
	if u, err := url.Parse(p.redirectURI); err == nil {
		host = u.Host
		if host == "" {
			host = u.Scheme + ":"
		}
	}
	name := p.clientName
	if name == "" {
		name = p.clientID
	}
	docHostName := ""
	if p.document {
		docHostName = docHost(p.clientID)
	}
	s.renderPage(w, status, pageData{
		Title: "Authorize access to this server", Error: errMsg,
		ClientName: name, ClientID: p.clientID, DocHost: docHostName, RedirectHost: host, Scope: p.scope,
		Action: s.basePath + "/authorize", RequestID: s.signPending(p, browser), CSRF: s.csrfFor(p.nonce, browser),
	})
}

func (s *Server) errorPage(w http.ResponseWriter, status int, msg string) {
	s.errorPageMsg(w, &pageMsg{Text: msg, status: status})
}

func (s *Server) errorPageMsg(w http.ResponseWriter, m *pageMsg) {
	status := m.status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	s.renderPage(w, status, pageData{Title: "Authorization error", Message: m.Text, MessageCode: m.Code, MessageTail: m.Tail})
}

func (s *Server) renderPage(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pageTmpl().Execute(w, d); err != nil {
		s.log.Warn("rendering a page", "err", err)
	}
}

// pageStyle is the page's only style; its hash is allowed by the CSP so no
// other inline style can apply.
const pageStyle = `body{font-family:system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em;color:#222}` +
	`.err{color:#a00;font-weight:bold}code{background:#f3f3f3;padding:0 .2em}input[type=password]{width:100%;padding:.4em;margin:.4em 0}` +
	`button{padding:.4em 1.2em;margin-right:.6em}.doc{font-size:1.4em;border:2px solid #a60;padding:.4em .6em}`

var pageStyleHash = "'sha256-" + sha256Base64(pageStyle) + "'"

// pageTmpl is parsed on first use: most servers never show the page, and
// parsing at init slows every start.
var pageTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}} - servagent</title><style>` + pageStyle + `</style></head>
<body>
<h1>{{.Title}}</h1>
{{if .Message}}<p class="err">{{.Message}}{{if .MessageCode}}<code>{{.MessageCode}}</code>{{.MessageTail}}{{end}}</p>{{else}}
{{if .DocHost}}<p class="doc">Client published by <strong>{{.DocHost}}</strong></p>
<p>The application <strong>{{.ClientName}}</strong> describes itself in a document at <code>{{.ClientID}}</code>. Anyone can publish such a document and give it any name: what you can trust is the host above. It asks to operate this server through MCP{{if .Scope}} with scope <code>{{.Scope}}</code>{{end}}.</p>
{{else}}<p>The application <strong>{{.ClientName}}</strong> (client id <code>{{.ClientID}}</code>) asks to operate this server through MCP{{if .Scope}} with scope <code>{{.Scope}}</code>{{end}}.</p>{{end}}
<p>If you approve, you will be sent back to <strong>{{.RedirectHost}}</strong>.</p>
<p>Only approve if you started this connection yourself. Enter the operator secret (the API key, or the approval password if one is set).</p>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}" autocomplete="off">
<input type="hidden" name="request_id" value="{{.RequestID}}">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<label for="secret">Operator secret</label>
<input type="password" id="secret" name="secret" autofocus>
<button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny">Deny</button>
</form>{{end}}
</body></html>
`))
})

func sha256Base64(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(h[:])
}
