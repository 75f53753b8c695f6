package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"

	"gorm.io/gorm"

	"github.com/servagent/servagent/pkg/httpjson"
	"github.com/servagent/servagent/pkg/secret"
)

const maxFormBytes = 16 << 10

// oauthError is an RFC 6749 §5.2 error answer.
type oauthError struct {
	status int
	code   string
	desc   string
	basic  bool // add WWW-Authenticate: Basic (client tried Basic auth)
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func errInvalidRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", desc: desc}
}

func errInvalidGrant(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", desc: desc}
}

func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	if e.basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="servagent", charset="UTF-8"`)
	}
	switch e.status { // as the middleware and /register say when to come back
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "60")
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "5")
	}
	httpjson.Error(w, e.status, e.code, e.desc)
}

// parseTokenForm reads an application/x-www-form-urlencoded POST body and
// returns its parameters. Query-string parameters are ignored: secrets do
// not belong in URLs. A parameter given twice is an error (RFC 6749 §3.2).
func parseTokenForm(w http.ResponseWriter, r *http.Request) (map[string]string, *oauthError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return nil, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", desc: "use POST"}
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, errInvalidRequest("the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, errInvalidRequest("malformed or too large form body")
	}
	out := make(map[string]string, len(r.PostForm))
	for k, v := range r.PostForm {
		if len(v) != 1 {
			return nil, errInvalidRequest("parameter " + safeName(k) + " given more than once")
		}
		out[k] = v[0]
	}
	return out, nil
}

var safeNameRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_]{1,40}$`) })

// safeName echoes a parameter name in an error only if it is harmless.
func safeName(k string) string {
	if safeNameRe().MatchString(k) {
		return k
	}
	return "(unprintable)"
}

// authenticateClient applies client_secret_basic, client_secret_post or
// none, and returns the client. Secrets are compared in constant time.
func (s *Server) authenticateClient(ctx context.Context, r *http.Request, form map[string]string) (*clientRow, *oauthError) {
	// Failed client authentications are throttled per address, so client
	// secrets (including an operator-chosen static one) cannot be guessed
	// at speed.
	// Only failures count, after the check: a correct client is never refused.
	c, oe := s.checkClient(ctx, r, form)
	if oe != nil && oe.code == "invalid_client" && !s.authFail.Allow(limitKey(r), s.now()) {
		return nil, &oauthError{status: http.StatusTooManyRequests, code: "invalid_client", desc: "too many failed client authentications; retry in a minute"}
	}
	return c, oe
}

func (s *Server) checkClient(ctx context.Context, r *http.Request, form map[string]string) (*clientRow, *oauthError) {
	id, sec, hasBasic := basicCredentials(r)
	if hasBasic {
		if _, ok := form["client_secret"]; ok {
			return nil, errInvalidRequest("use only one client authentication method")
		}
		if fid, ok := form["client_id"]; ok && fid != id {
			return nil, errInvalidRequest("client_id does not match the Basic credentials")
		}
	} else {
		id = form["client_id"]
		sec = form["client_secret"]
	}
	bad := &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "client authentication failed", basic: hasBasic}
	if id == "" {
		return nil, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "client_id is required", basic: hasBasic}
	}
	if isURLClientID(id) {
		return s.checkDocumentClient(ctx, limitKey(r), id, sec, hasBasic)
	}
	if len(id) > 128 {
		return nil, bad
	}
	var c clientRow
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		// Spend the same work as a real comparison.
		secret.Equal(sec, "")
		return nil, bad
	}
	if err != nil {
		s.log.Error("reading client", "err", err)
		return nil, &oauthError{status: http.StatusInternalServerError, code: "server_error", desc: "storage error"}
	}
	if c.SecretHash == "" {
		// Public client: it must not present a secret, and PKCE (always
		// required) stands in for client authentication. Basic with an
		// empty password is just another way to name the client.
		if sec != "" {
			return nil, bad
		}
		return &c, nil
	}
	if sec == "" || !secret.Equal(secret.Hash(sec), c.SecretHash) {
		return nil, bad
	}
	return &c, nil
}

// checkDocumentClient authenticates a client named by a metadata document:
// a public client, so no secret, and its document must still be usable. A
// document not in the cache costs a fetch, so that attempt counts against
// the address's failed-authentication budget before the fetch (a document
// client has no secret, so this never refuses a correct credential); a
// fetch that fails gives the count back, as the caller counts the failure.
func (s *Server) checkDocumentClient(ctx context.Context, key, id, sec string, basic bool) (*clientRow, *oauthError) {
	if s.docs == nil {
		return nil, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "client ID metadata documents are turned off on this server", basic: basic}
	}
	if sec != "" {
		return nil, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "a client with a metadata document is public and must not send a secret", basic: basic}
	}
	counted := false
	c, err := s.docs.get(ctx, id, func() error {
		if !s.authFail.Allow(key, s.now()) {
			return errTooManyFetches
		}
		counted = true
		return nil
	})
	switch {
	case errors.Is(err, errTooManyFetches):
		return nil, &oauthError{status: http.StatusTooManyRequests, code: "invalid_client", desc: "too many failed client authentications; retry in a minute"}
	case errors.Is(err, errDocBusy):
		return nil, &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", desc: err.Error()}
	case err != nil:
		if counted {
			s.authFail.Refund(key)
		}
		return nil, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "the client's metadata document cannot be used: " + err.Error(), basic: basic}
	}
	return c, nil
}

var errTooManyFetches = errors.New("too many document fetches from this address")

// basicCredentials reads HTTP Basic client credentials, which RFC 6749
// §2.3.1 form-encodes before Basic: "a+b%25" arrives as "a%2Bb%2525". Every
// endpoint that takes client credentials reads them here, so a secret works
// the same on /register, /token and /revoke. A value that is not valid
// form-encoding is taken as it is.
func basicCredentials(r *http.Request) (id, sec string, ok bool) {
	id, sec, ok = r.BasicAuth()
	if !ok {
		return "", "", false
	}
	if v, err := url.QueryUnescape(id); err == nil {
		id = v
	}
	if v, err := url.QueryUnescape(sec); err == nil {
		sec = v
	}
	return id, sec, true
}

// clientRequest parses a /token or /revoke form and authenticates the
// client; on failure it has written the OAuth error.
func (s *Server) clientRequest(w http.ResponseWriter, r *http.Request) (map[string]string, *clientRow, bool) {
	form, oe := parseTokenForm(w, r)
	if oe == nil {
		var client *clientRow
		if client, oe = s.authenticateClient(r.Context(), r, form); oe == nil {
			return form, client, true
		}
	}
	writeOAuthError(w, oe)
	return nil, nil, false
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	form, client, ok := s.clientRequest(w, r)
	if !ok {
		return
	}
	if res, ok := form["resource"]; ok && !sameResource(res, s.resource) {
		writeOAuthError(w, &oauthError{status: http.StatusBadRequest, code: "invalid_target", desc: "resource must be " + s.resource})
		return
	}
	var resp map[string]any
	var oe *oauthError
	switch gt := form["grant_type"]; gt {
	case "authorization_code":
		resp, oe = s.exchangeCode(r.Context(), client, form)
	case "refresh_token":
		if !slices.Contains(strings.Fields(client.GrantTypes), "refresh_token") {
			oe = &oauthError{status: http.StatusBadRequest, code: "unauthorized_client", desc: "this client is not registered for the refresh_token grant"}
			break
		}
		resp, oe = s.refresh(r.Context(), client, form)
	case "":
		oe = errInvalidRequest("grant_type is required")
	default:
		oe = &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", desc: "supported: authorization_code, refresh_token"}
	}
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	httpjson.Write(w, http.StatusOK, resp)
}

var verifierRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`) })

// pkceS256 is the RFC 7636 S256 transform.
func pkceS256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// The invalid_grant descriptions of a code or refresh token that is
// unknown, expired, used or revoked: one text for all of these.
const (
	unknownCode    = "unknown, expired or used code"
	unknownRefresh = "unknown, expired or revoked refresh token"
)

// issuedTo is the client a code or refresh token row was issued to.
func (r *codeRow) issuedTo() string  { return r.ClientID }
func (r *tokenRow) issuedTo() string { return r.ClientID }

// presentedRow reads the row of the code or refresh token value a client
// presented, by its hash and the further conditions cond, and checks it
// was issued to client. No row and another client's row are the same
// invalid_grant with unknown, so a client cannot learn that someone else's
// value exists (the attempt is logged); a storage failure is server_error.
// Whether the row is still usable is the caller's to check.
func presentedRow[T any, P interface {
	*T
	issuedTo() string
}](ctx context.Context, s *Server, client *clientRow, value, unknown string, cond ...any) (P, *oauthError) {
	row := P(new(T))
	err := s.db.WithContext(ctx).Where("hash = ?", secret.Hash(value)).Take(row, cond...).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil, errInvalidGrant(unknown)
	case err != nil:
		return nil, s.storageError(err)
	case row.issuedTo() != client.ID:
		s.log.Warn("a client presented a value issued to another client", "client", client.ID, "issued_to", row.issuedTo())
		return nil, errInvalidGrant(unknown)
	}
	return row, nil
}

func (s *Server) exchangeCode(ctx context.Context, client *clientRow, form map[string]string) (map[string]any, *oauthError) {
	code := form["code"]
	if code == "" {
		return nil, errInvalidRequest("code is required")
	}
	verifier := form["code_verifier"]
	if verifier == "" {
		return nil, errInvalidRequest("code_verifier is required (PKCE)")
	}
	if len(code) > maxTokenLen {
		return nil, errInvalidGrant("unknown code")
	}
	row, oe := presentedRow[codeRow](ctx, s, client, code, unknownCode)
	if oe != nil {
		return nil, oe
	}
	if row.Used {
		// RFC 6749 §4.1.2: a replayed code revokes what it issued, since
		// one of the two callers has stolen it.
		s.revokeGrant(ctx, row.GrantID)
		s.log.Warn("authorization code replayed; its tokens were revoked", "client_id", client.ID)
		return nil, errInvalidGrant(unknownCode)
	}
	now := s.now()
	if row.ExpiresAt <= now.Unix() {
		return nil, errInvalidGrant(unknownCode)
	}
	if ru, given := form["redirect_uri"]; row.RedirectGiven || given {
		if ru != row.RedirectURI {
			return nil, errInvalidGrant("redirect_uri does not match the authorization request")
		}
	}
	if res, ok := form["resource"]; ok && !sameResource(res, row.Resource) {
		return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_target", desc: "resource differs from the authorization request"}
	}
	// Burn the code before checking the verifier, so that a stolen code
	// cannot be used to guess verifiers.
	// Marking the code used and issuing its tokens happen in one
	// transaction, so a concurrent replay sees either nothing or both.
	var resp map[string]any
	badVerifier := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&codeRow{}).Where("hash = ? AND used = ?", row.Hash, false).Update("used", true)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errReplay
		}
		if !verifierRe().MatchString(verifier) || !secret.Equal(pkceS256(verifier), row.Challenge) {
			badVerifier = true
			return nil // commit: the code stays burnt
		}
		var err error
		resp, err = s.issueTokens(tx, client, row.GrantID, row.Scope, row.Resource)
		return err
	})
	switch {
	case errors.Is(err, errReplay):
		s.revokeGrant(ctx, row.GrantID)
		return nil, errInvalidGrant(unknownCode)
	case err != nil:
		return nil, s.storageError(err)
	case badVerifier:
		return nil, errInvalidGrant("code_verifier does not match the code challenge")
	}
	return resp, nil
}

var errReplay = errors.New("replayed")

func (s *Server) refresh(ctx context.Context, client *clientRow, form map[string]string) (map[string]any, *oauthError) {
	rt := form["refresh_token"]
	if rt == "" {
		return nil, errInvalidRequest("refresh_token is required")
	}
	if len(rt) > maxTokenLen {
		return nil, errInvalidGrant("unknown refresh token")
	}
	row, oe := presentedRow[tokenRow](ctx, s, client, rt, unknownRefresh, "kind = ?", kindRefresh)
	if oe != nil {
		return nil, oe
	}
	if row.Revoked {
		return nil, errInvalidGrant(unknownRefresh)
	}
	if row.Rotated {
		if resp, ok := s.replayRotation(ctx, row); ok {
			return resp, nil
		}
		s.revokeGrant(ctx, row.GrantID)
		s.log.Warn("rotated refresh token reused; its family was revoked", "client_id", client.ID)
		return nil, errInvalidGrant(unknownRefresh)
	}
	if row.ExpiresAt <= s.now().Unix() {
		return nil, errInvalidGrant(unknownRefresh)
	}
	scope := row.Scope
	if req := requestedScopes(form["scope"]); len(req) > 0 {
		// A refresh may narrow the scope, never widen it.
		granted := splitScope(row.Scope)
		for _, sc := range req {
			if !slices.Contains(granted, sc) {
				return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_scope", desc: "scope exceeds the original grant"}
			}
		}
		scope = strings.Join(dedupe(req), " ")
	}
	var resp map[string]any
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&tokenRow{}).Where("hash = ? AND rotated = ? AND revoked = ?", row.Hash, false, false).Update("rotated", true)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errReplay
		}
		var err error
		// The audience (resource) is carried over unchanged.
		resp, err = s.issueTokens(tx, client, row.GrantID, scope, row.Resource)
		access, _ := resp["access_token"].(string)
		newRefresh, _ := resp["refresh_token"].(string)
		if err == nil && newRefresh != "" {
			// Recorded before commit: a concurrent retry waiting on the
			// database finds it as soon as it sees the rotation.
			s.rotated.record(row.Hash, rotation{resp: resp, accessHash: secret.Hash(access), newHash: secret.Hash(newRefresh), at: s.now()})
		}
		return err
	})
	switch {
	case errors.Is(err, errReplay):
		if resp, ok := s.replayRotation(ctx, row); ok {
			return resp, nil
		}
		s.revokeGrant(ctx, row.GrantID)
		return nil, errInvalidGrant(unknownRefresh)
	case err != nil:
		return nil, s.storageError(err)
	}
	return resp, nil
}

// replayRotation answers a reused refresh token within the reuse interval
// with the pair it was rotated into, provided that pair is still the live
// end of the family (neither revoked nor itself rotated).
func (s *Server) replayRotation(ctx context.Context, old *tokenRow) (map[string]any, bool) {
	r, ok := s.rotated.lookup(old.Hash, s.now())
	if !ok {
		return nil, false
	}
	var live int64
	err := s.db.WithContext(ctx).Model(&tokenRow{}).
		Where("hash IN ? AND grant_id = ? AND revoked = ? AND rotated = ?", []string{r.newHash, r.accessHash}, old.GrantID, false, false).
		Count(&live).Error
	if err != nil || live != 2 {
		return nil, false
	}
	s.log.Info("rotated refresh token presented again within the reuse interval; same pair returned", "client_id", old.ClientID)
	return r.resp, true
}

// issueTokens creates an access token, and a refresh token if the client
// registered for that grant, in the grant's family.
func (s *Server) issueTokens(tx *gorm.DB, client *clientRow, grantID, scope, resource string) (map[string]any, error) {
	now := s.now()
	access := "sat_" + secret.NewKey()
	rows := []tokenRow{
		{Hash: secret.Hash(access), Kind: kindAccess, ClientID: client.ID, GrantID: grantID, Scope: scope, Resource: resource,
			IssuedAt: now.Unix(), ExpiresAt: now.Add(accessTTL).Unix()},
	}
	resp := map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"expires_in":   int(accessTTL.Seconds()),
	}
	if slices.Contains(strings.Fields(client.GrantTypes), "refresh_token") {
		refresh := "srt_" + secret.NewKey()
		rows = append(rows, tokenRow{Hash: secret.Hash(refresh), Kind: kindRefresh, ClientID: client.ID, GrantID: grantID, Scope: scope, Resource: resource,
			IssuedAt: now.Unix(), ExpiresAt: now.Add(refreshTTL).Unix()})
		resp["refresh_token"] = refresh
	}
	if err := tx.Create(&rows).Error; err != nil {
		return nil, err
	}
	if scope != "" {
		resp["scope"] = scope
	}
	return resp, nil
}

// revokeGrant revokes every token of one grant family. Failures are logged:
// the caller is already answering with an error.
func (s *Server) revokeGrant(ctx context.Context, grantID string) {
	if grantID == "" {
		return
	}
	if err := s.db.WithContext(ctx).Model(&tokenRow{}).Where("grant_id = ?", grantID).Update("revoked", true).Error; err != nil {
		s.log.Error("revoking a token family", "err", err)
	}
}

func (s *Server) storageError(err error) *oauthError {
	s.log.Error("storage error", "err", err)
	return &oauthError{status: http.StatusInternalServerError, code: "server_error", desc: "storage error"}
}

// handleRevoke implements RFC 7009. Only the authenticated client's own
// tokens are affected; unknown tokens still get 200.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	form, client, ok := s.clientRequest(w, r)
	if !ok {
		return
	}
	tok := form["token"]
	if tok == "" {
		writeOAuthError(w, errInvalidRequest("token is required"))
		return
	}
	if len(tok) <= maxTokenLen {
		db := s.db.WithContext(r.Context())
		var row tokenRow
		err := db.Where("hash = ?", secret.Hash(tok)).Take(&row).Error
		switch {
		case err == nil && row.ClientID == client.ID:
			if row.Kind == kindRefresh {
				// Revoking a refresh token ends the grant (RFC 7009 §2.1).
				s.revokeGrant(r.Context(), row.GrantID)
			} else if err := db.Model(&tokenRow{}).Where("hash = ?", row.Hash).Update("revoked", true).Error; err != nil {
				writeOAuthError(w, s.storageError(err))
				return
			}
		case err != nil && !errors.Is(err, gorm.ErrRecordNotFound):
			writeOAuthError(w, s.storageError(err))
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}
