package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/servagent/servagent/pkg/httpjson"
	"github.com/servagent/servagent/pkg/secret"
)

const (
	maxRegisterBytes = 64 << 10
	maxRedirectURIs  = 20
	maxClientName    = 200
)

// registrationRequest holds the RFC 7591 fields we use. Unknown fields are
// ignored, as §2 requires; known fields of the wrong type are an error.
type registrationRequest struct {
	RedirectURIs            []string `json:"redirect_uris"`
	ClientName              string   `json:"client_name"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope"`
}

type regError struct {
	status int
	code   string
	desc   string
}

// handleRegister implements RFC 7591 dynamic registration, open only to
// callers holding the operator credentials (HTTP Basic).
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		httpjson.Error(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	if s.opts.ClientID == "" {
		httpjson.Error(w, http.StatusForbidden, "access_denied",
			"dynamic client registration is closed: set SERVAGENT_OAUTH_CLIENT_ID and SERVAGENT_OAUTH_CLIENT_SECRET to enable it")
		return
	}
	ip := limitKey(r)
	if !s.regFail.Allowed(ip, s.now()) {
		w.Header().Set("Retry-After", "60")
		httpjson.Error(w, http.StatusTooManyRequests, "access_denied", "too many failed attempts; retry in a minute")
		return
	}
	id, sec, ok := basicCredentials(r)
	// Evaluate both comparisons, so timing does not tell which one failed.
	idOK := secret.Equal(id, s.opts.ClientID)
	secOK := secret.Equal(sec, s.opts.ClientSecret)
	if !ok || !idOK || !secOK {
		s.regFail.Allow(ip, s.now())
		w.Header().Set("WWW-Authenticate", `Basic realm="servagent", charset="UTF-8"`)
		httpjson.Error(w, http.StatusUnauthorized, "invalid_client", "registration requires HTTP Basic authentication with the operator client credentials")
		return
	}
	req, rerr := decodeRegistration(w, r)
	if rerr != nil {
		httpjson.Error(w, rerr.status, rerr.code, rerr.desc)
		return
	}
	c := clientRow{
		ID:            "client-" + secret.NewHex(16),
		Name:          req.ClientName,
		GrantTypes:    strings.Join(req.GrantTypes, " "),
		ResponseTypes: strings.Join(req.ResponseTypes, " "),
		AuthMethod:    req.TokenEndpointAuthMethod,
		Scope:         req.Scope,
		IssuedAt:      s.now().Unix(),
	}
	uris, _ := json.Marshal(req.RedirectURIs)
	c.RedirectURIs = string(uris)
	var clientSecret string
	if c.AuthMethod != "none" {
		clientSecret = secret.NewKey()
		c.SecretHash = secret.Hash(clientSecret)
	}
	if err := s.db.WithContext(r.Context()).Create(&c).Error; err != nil {
		s.log.Error("storing a registered client", "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "server_error", "storage error")
		return
	}
	s.log.Info("client registered", "client_id", c.ID, "auth_method", c.AuthMethod)
	resp := map[string]any{
		"client_id":                  c.ID,
		"client_id_issued_at":        c.IssuedAt,
		"redirect_uris":              req.RedirectURIs,
		"grant_types":                req.GrantTypes,
		"response_types":             req.ResponseTypes,
		"token_endpoint_auth_method": c.AuthMethod,
		"scope":                      c.Scope,
	}
	if c.Name != "" {
		resp["client_name"] = c.Name
	}
	if clientSecret != "" {
		resp["client_secret"] = clientSecret
		resp["client_secret_expires_at"] = 0
	}
	httpjson.Write(w, http.StatusCreated, resp)
}

func badMetadata(desc string) *regError {
	return &regError{status: http.StatusBadRequest, code: "invalid_client_metadata", desc: desc}
}

// decodeRegistration parses and validates the body, filling defaults.
func decodeRegistration(w http.ResponseWriter, r *http.Request) (*registrationRequest, *regError) {
	req, rerr := readRegistration(w, r)
	if rerr != nil {
		return nil, rerr
	}
	for _, check := range []func(*registrationRequest) *regError{
		checkRedirectURIs, checkClientName, checkGrantTypes, checkResponseTypes, checkAuthMethod, checkRegScope,
	} {
		if rerr := check(req); rerr != nil {
			return nil, rerr
		}
	}
	return req, nil
}

// readRegistration reads the bounded JSON body: one object, nothing after.
func readRegistration(w http.ResponseWriter, r *http.Request) (*registrationRequest, *regError) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/json" {
		return nil, badMetadata("the body must be application/json")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRegisterBytes)
	var body bytes.Buffer
	if _, err := body.ReadFrom(r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &regError{status: http.StatusRequestEntityTooLarge, code: "invalid_client_metadata", desc: "body too large"}
		}
		return nil, badMetadata("could not read the body")
	}
	var req registrationRequest
	dec := json.NewDecoder(&body)
	if err := dec.Decode(&req); err != nil {
		return nil, badMetadata("the body is not a valid registration JSON object")
	}
	if dec.More() {
		return nil, badMetadata("trailing data after the JSON object")
	}
	return &req, nil
}

func checkRedirectURIs(req *registrationRequest) *regError {
	if len(req.RedirectURIs) == 0 {
		return &regError{status: http.StatusBadRequest, code: "invalid_redirect_uri", desc: "redirect_uris is required"}
	}
	if len(req.RedirectURIs) > maxRedirectURIs {
		return &regError{status: http.StatusBadRequest, code: "invalid_redirect_uri", desc: fmt.Sprintf("at most %d redirect_uris", maxRedirectURIs)}
	}
	for _, u := range req.RedirectURIs {
		if err := validateRedirectURI(u); err != nil {
			return &regError{status: http.StatusBadRequest, code: "invalid_redirect_uri", desc: "redirect URI rejected: " + err.Error()}
		}
	}
	return nil
}

func checkClientName(req *registrationRequest) *regError {
	if !utf8.ValidString(req.ClientName) || utf8.RuneCountInString(req.ClientName) > maxClientName {
		return badMetadata(fmt.Sprintf("client_name must be valid UTF-8 of at most %d characters", maxClientName))
	}
	if strings.IndexFunc(req.ClientName, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }) >= 0 {
		// The name is shown to the operator on the approval page; control
		// and bidi characters could disguise it.
		return badMetadata("client_name contains control characters")
	}
	req.ClientName = strings.TrimSpace(req.ClientName)
	return nil
}

func checkGrantTypes(req *registrationRequest) *regError {
	if len(req.GrantTypes) == 0 {
		req.GrantTypes = []string{"authorization_code"}
	}
	for _, g := range req.GrantTypes {
		if !slices.Contains(supportedGrantTypes, g) {
			return badMetadata("unsupported grant type; supported: authorization_code, refresh_token")
		}
	}
	if !slices.Contains(req.GrantTypes, "authorization_code") {
		return badMetadata("grant_types must include authorization_code")
	}
	req.GrantTypes = dedupe(req.GrantTypes)
	return nil
}

func checkResponseTypes(req *registrationRequest) *regError {
	if len(req.ResponseTypes) == 0 {
		req.ResponseTypes = []string{"code"}
	}
	for _, rt := range req.ResponseTypes {
		if rt != "code" {
			return badMetadata(`unsupported response type; only "code"`)
		}
	}
	req.ResponseTypes = dedupe(req.ResponseTypes)
	return nil
}

func checkAuthMethod(req *registrationRequest) *regError {
	if req.TokenEndpointAuthMethod == "" {
		req.TokenEndpointAuthMethod = "client_secret_basic" // RFC 7591 §2 default
	}
	if !slices.Contains(supportedAuthMethods, req.TokenEndpointAuthMethod) {
		return badMetadata("unsupported token_endpoint_auth_method; supported: client_secret_post, client_secret_basic, none")
	}
	return nil
}

func checkRegScope(req *registrationRequest) *regError {
	scopes := requestedScopes(req.Scope)
	if len(scopes) == 0 {
		scopes = supportedScopes
	}
	for _, sc := range scopes {
		if !slices.Contains(supportedScopes, sc) {
			return badMetadata("unsupported scope; supported: " + strings.Join(supportedScopes, " "))
		}
	}
	req.Scope = strings.Join(dedupe(scopes), " ")
	return nil
}

func dedupe(in []string) []string {
	var out []string
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
