package oauth

import (
	"errors"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/servagent/servagent/pkg/netname"
)

// chatGPTConnectorRe is ChatGPT's per-connector callback. Only the static
// client may use it, and the id is limited to a charset that cannot change
// the URL's meaning.
var chatGPTConnectorRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^https://chatgpt\.com/connector/oauth/[A-Za-z0-9_-]{1,128}$`)
})

// privateSchemeRe is a reverse-domain private-use scheme (RFC 8252 §7.1),
// e.g. com.example.app:/callback. Requiring a dot keeps out javascript:,
// data:, file: and friends.
var privateSchemeRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$`) })

const maxRedirectURILen = 2000

var ldhLabelRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`) })

// isASCIIHost reports whether host (without port) is an IP literal or plain
// letter-digit-hyphen labels. Hosts are shown on the approval page as what
// the operator should trust, so no Unicode that could imitate another name:
// an international name must be given in its xn-- (punycode) form.
func isASCIIHost(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for _, l := range strings.Split(host, ".") {
		if !ldhLabelRe().MatchString(l) {
			return false
		}
	}
	return true
}

// isURIChars reports whether s holds only characters RFC 3986 allows in a
// URI (unreserved, reserved and '%').
func isURIChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// validateRedirectURI checks a redirect URI a client wants to register.
func validateRedirectURI(raw string) error {
	if raw == "" || len(raw) > maxRedirectURILen {
		return errors.New("empty or too long")
	}
	if strings.ContainsAny(raw, " \t\r\n\\<>\"") {
		return errors.New("contains characters not allowed in a URI")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a valid URI")
	}
	if !u.IsAbs() {
		return errors.New("not an absolute URI")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not contain a fragment")
	}
	if u.User != nil {
		return errors.New("must not contain user information")
	}
	if u.Host != "" && !isASCIIHost(u.Hostname()) {
		return errors.New("its host must be plain ASCII (letters, digits, hyphens; an international name in its xn-- form)")
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "https":
		if u.Host == "" {
			return errors.New("https URI without a host")
		}
	case scheme == "http":
		if !netname.IsLoopbackHost(u.Hostname()) {
			return errors.New("plain http is allowed only for loopback hosts (127.0.0.1, [::1], localhost)")
		}
	case privateSchemeRe().MatchString(scheme):
		// Native app callback; the app owns the scheme.
	default:
		return errors.New("scheme must be https, http on loopback, or a reverse-domain private scheme")
	}
	return nil
}

// redirectMatches reports whether requested is acceptable for a client with
// the given registered URIs: an exact match, or a loopback http URI that
// differs only in port (RFC 8252 §7.3), or for the static client ChatGPT's
// per-connector callback.
func redirectMatches(registered []string, requested string, static bool) bool {
	if requested == "" || len(requested) > maxRedirectURILen {
		return false
	}
	for _, r := range registered {
		if r == requested {
			return true
		}
	}
	if static && chatGPTConnectorRe().MatchString(requested) {
		return true
	}
	req, err := url.Parse(requested)
	if err != nil || req.Scheme != "http" || !netname.IsLoopbackHost(req.Hostname()) || req.User != nil || req.Fragment != "" || strings.Contains(requested, "#") {
		return false
	}
	for _, r := range registered {
		reg, err := url.Parse(r)
		if err != nil || reg.Scheme != "http" || !netname.IsLoopbackHost(reg.Hostname()) {
			continue
		}
		if reg.Hostname() == req.Hostname() && reg.EscapedPath() == req.EscapedPath() && reg.RawQuery == req.RawQuery && reg.User == nil {
			return true
		}
	}
	return false
}

// sameResource reports whether an RFC 8707 resource names want. Clients
// differ in spelling: https://H/mcp/, https://h:443/mcp and https://h/mcp are
// one resource (case of scheme and host, default port, one trailing slash);
// the path, query and anything else must match exactly.
func sameResource(r, want string) bool { return normalizeResource(r) == normalizeResource(want) }

func normalizeResource(r string) string {
	r = strings.TrimSuffix(r, "/")
	u, err := url.Parse(r)
	if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil {
		return r
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		u.Host = strings.TrimSuffix(u.Host, ":"+p)
	}
	return u.String()
}
