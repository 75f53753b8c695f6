// Package auth says who may call what. The whole policy is the Matrix table
// below; Middleware enforces it in front of every route.
package auth

import (
	"strings"
)

// Method is a way a request can prove who it is.
type Method string

const (
	// APIKey is `Authorization: Bearer <SERVAGENT_API_KEY>`.
	APIKey Method = "api_key"
	// OAuth is `Authorization: Bearer <access token>` issued by our OAuth server.
	OAuth Method = "oauth"
	// Basic is HTTP Basic with the operator's OAuth CLIENT_ID:CLIENT_SECRET.
	Basic Method = "basic"
	// Public needs no credential.
	Public Method = "public"
	// NoAuth marks requests let through by --insecure-no-auth.
	NoAuth Method = "none"
)

// Rule grants methods to a path. A pattern ending in "/" matches the subtree;
// any other pattern matches that exact path.
type Rule struct {
	Pattern string
	Methods []Method
	Note    string
}

// Matrix is servagent's authentication policy, most specific first.
// OAuth discovery and the OAuth endpoints that authenticate their callers
// themselves (token and revoke check client credentials, authorize shows the
// operator approval page) are public at this layer.
var Matrix = []Rule{
	{"/healthz", []Method{Public}, "liveness only: status and version"},
	{"/.well-known/", []Method{Public}, "OAuth discovery (RFC 8414, RFC 9728)"},
	{"/mcp/.well-known/", []Method{Public}, "OAuth discovery under /mcp"},
	{"/authorize", []Method{Public}, "307 to /mcp/authorize"},
	{"/token", []Method{Public}, "307 to /mcp/token"},
	{"/register", []Method{Public}, "307 to /mcp/register, which needs Basic"},
	{"/revoke", []Method{Public}, "307 to /mcp/revoke"},
	{"/mcp/authorize", []Method{Public}, "approval page asks the operator secret itself"},
	{"/mcp/token", []Method{Public}, "client authentication inside (secret_post, secret_basic, PKCE)"},
	{"/mcp/revoke", []Method{Public}, "client authentication inside"},
	{"/mcp/register", []Method{Basic}, "dynamic client registration, operator credentials only"},
	{"/mcp", []Method{APIKey, OAuth}, "Streamable HTTP MCP endpoint"},
	{"/sse", []Method{APIKey}, "legacy SSE stream"},
	{"/messages/", []Method{APIKey}, "legacy SSE message endpoint"},
	{"/upload", []Method{APIKey}, "multipart file upload"},
	{"/download", []Method{APIKey}, "file download (GET, HEAD)"},
}

// Lookup returns the rule for path, or nil when no rule matches (denied).
func Lookup(path string) *Rule {
	for i := range Matrix {
		r := &Matrix[i]
		if strings.HasSuffix(r.Pattern, "/") {
			if strings.HasPrefix(path, r.Pattern) {
				return r
			}
			continue
		}
		if path == r.Pattern {
			return r
		}
	}
	return nil
}

// Allows reports whether the rule accepts method m.
func (r *Rule) Allows(m Method) bool {
	for _, x := range r.Methods {
		if x == m {
			return true
		}
	}
	return false
}
