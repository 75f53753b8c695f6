// Package netname holds servagent's one copy of the checks on names and URLs
// that operators configure: a certificate's domain, the loopback test that
// decides where plain HTTP is acceptable, and the OAuth issuer URL. The
// errors say what is wrong in words an operator can act on; callers add
// which setting or argument held the value.
package netname

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Domain normalises d (trimmed, lower case, no trailing dot) and checks it is
// one DNS name that HTTP-01 and TLS-ALPN-01 can validate: no wildcard, no IP
// literal, no port or path. The result is also safe as a directory name.
func Domain(d string) (string, error) {
	if strings.TrimSpace(d) == "" {
		return "", errors.New("a domain is required")
	}
	d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
	bad := func(why string) (string, error) { return "", fmt.Errorf("invalid domain %q: %s", d, why) }
	if strings.HasPrefix(d, "*.") {
		return bad("wildcards need DNS-01, which servagent does not do")
	}
	if net.ParseIP(d) != nil {
		return bad("an IP address, not a DNS name")
	}
	if len(d) > 253 {
		return bad("longer than 253 characters")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return bad("needs at least two labels (e.g. mcp.example.com)")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return bad("empty or over-long label")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return bad("label starts or ends with '-'")
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return bad(fmt.Sprintf("character %q (use the punycode xn-- form for IDNs)", r))
			}
		}
	}
	return d, nil
}

// IsLoopbackHost reports whether host (no port) names the loopback
// interface: "localhost" or a loopback IP literal, an IPv6 one bare or in
// one pair of brackets ("::1", "[::1]"). A stray bracket ("127.0.0.1]",
// "[::1") or an IPv4 literal in brackets is not a loopback name.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	if inner, ok := strings.CutPrefix(host, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		if !ok || !strings.Contains(inner, ":") {
			return false
		}
		host = inner
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IssuerURL normalises an OAuth issuer URL (no trailing slash) and checks it:
// absolute http(s), a path ending in /mcp, https unless the host is
// loopback (codes and tokens would cross the network in clear), no user
// information, a port from 1 to 65535, no dot segment or escaped character
// in the path (the issuer is compared as a string), no query or fragment.
func IssuerURL(raw string) (string, error) {
	issuer := strings.TrimRight(raw, "/")
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", errors.New("an absolute http(s) URL such as https://example.com/mcp")
	}
	if !strings.HasSuffix(u.Path, "/mcp") {
		return "", errors.New("a URL whose path ends in /mcp, such as https://example.com/mcp")
	}
	if u.Scheme != "https" && !IsLoopbackHost(u.Hostname()) {
		return "", errors.New("an https URL (plain http is accepted only for loopback hosts)")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("a URL without query or fragment")
	}
	if u.User != nil {
		return "", errors.New("a URL without user information (user:password@)")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", errors.New("a URL whose port is between 1 and 65535")
		}
	}
	if u.RawPath != "" || strings.Contains(u.EscapedPath(), "%") || slices.ContainsFunc(strings.Split(u.Path, "/"), func(seg string) bool { return seg == "." || seg == ".." }) {
		return "", errors.New("a URL whose path has no . or .. segment and no escaped character")
	}
	return issuer, nil
}
