package oauth

import (
	"net/http"

	"github.com/servagent/servagent/pkg/httpjson"
)

// Register puts every OAuth route on mux: the endpoints and metadata under
// /mcp/..., and at the root the well-known and legacy paths that answer 307
// to their /mcp twin. /mcp itself is left to the caller.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("/mcp/authorize", s.handleAuthorize)
	mux.HandleFunc("/mcp/token", s.handleToken)
	mux.HandleFunc("/mcp/register", s.handleRegister)
	mux.HandleFunc("/mcp/revoke", s.handleRevoke)
	mux.HandleFunc("/mcp/.well-known/oauth-authorization-server", s.handleASMetadata)
	mux.HandleFunc("/mcp/.well-known/oauth-protected-resource", s.handlePRMetadata)

	for path, target := range map[string]string{
		"/.well-known/oauth-authorization-server":     "/.well-known/oauth-authorization-server",
		"/.well-known/oauth-authorization-server/mcp": "/.well-known/oauth-authorization-server",
		"/.well-known/oauth-protected-resource":       "/.well-known/oauth-protected-resource",
		"/.well-known/oauth-protected-resource/mcp":   "/.well-known/oauth-protected-resource",
		"/authorize": "/authorize",
		"/token":     "/token",
		"/register":  "/register",
		"/revoke":    "/revoke",
	} {
		mux.Handle(path, s.redirectTo(target))
	}
}

// redirectTo answers 307 (method and body kept) to the issuer-relative
// path, with the query string unchanged.
func (s *Server) redirectTo(suffix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loc := s.issuer + suffix
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		setCORS(w)
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
}

func setCORS(w http.ResponseWriter) {
	// Metadata is public and browser-based MCP clients fetch it cross-origin.
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, MCP-Protocol-Version")
}

// metadataPreamble handles CORS and the method for a metadata endpoint; it
// reports whether the caller should write the document.
func metadataPreamble(w http.ResponseWriter, r *http.Request) bool {
	setCORS(w)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		httpjson.Error(w, http.StatusMethodNotAllowed, "invalid_request", "use GET")
	}
	return false
}

// asMetadata is the RFC 8414 document.
func (s *Server) asMetadata() map[string]any {
	m := map[string]any{
		"issuer":                                         s.issuer,
		"authorization_endpoint":                         s.issuer + "/authorize",
		"token_endpoint":                                 s.issuer + "/token",
		"registration_endpoint":                          s.issuer + "/register",
		"revocation_endpoint":                            s.issuer + "/revoke",
		"scopes_supported":                               supportedScopes,
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          supportedGrantTypes,
		"token_endpoint_auth_methods_supported":          supportedAuthMethods,
		"revocation_endpoint_auth_methods_supported":     supportedAuthMethods,
		"code_challenge_methods_supported":               []string{"S256"},
		"authorization_response_iss_parameter_supported": true,
	}
	if s.docs != nil {
		// Claude.ai uses CIMD only when this is true and "none" is among
		// token_endpoint_auth_methods_supported.
		m["client_id_metadata_document_supported"] = true
	}
	return m
}

func (s *Server) handleASMetadata(w http.ResponseWriter, r *http.Request) {
	if metadataPreamble(w, r) {
		httpjson.Write(w, http.StatusOK, s.asMetadata())
	}
}

func (s *Server) handlePRMetadata(w http.ResponseWriter, r *http.Request) {
	if metadataPreamble(w, r) {
		httpjson.Write(w, http.StatusOK, map[string]any{
			"resource":                 s.resource,
			"authorization_servers":    []string{s.issuer},
			"scopes_supported":         supportedScopes,
			"bearer_methods_supported": []string{"header"},
			"resource_name":            "servagent",
		})
	}
}
