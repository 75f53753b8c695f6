package server

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/servagent/servagent/pkg/config"
)

// Request guards in front of authentication: allowed Host names, and the
// browser guard of --insecure-no-auth.

// hostCheck enforces SERVAGENT_ALLOWED_HOSTS when set.
func (s *Server) hostCheck(next http.Handler) http.Handler {
	if len(s.cfg.AllowedHosts) == 0 {
		return next
	}
	allowed := map[string]bool{}
	for _, h := range s.cfg.AllowedHosts {
		allowed[strings.ToLower(h)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		bare := host
		if h, _, err := net.SplitHostPort(host); err == nil {
			bare = h
		}
		if r.URL.Path == "/healthz" || allowed[host] || allowed[bare] {
			next.ServeHTTP(w, r)
			return
		}
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "Host header not in SERVAGENT_ALLOWED_HOSTS"})
	})
}

// browserGuard protects an unauthenticated server from web pages: without a
// credential, any site the operator visits could POST to a loopback port
// (a multipart upload needs no CORS preflight) or reach it by DNS
// rebinding. Only loopback Host names and same-origin or non-browser
// requests get through.
func browserGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !config.IsLoopbackHost(host) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "without authentication only loopback Host names are accepted"})
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || !config.IsLoopbackHost(u.Hostname()) {
				writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-origin request refused"})
				return
			}
		}
		switch r.Header.Get("Sec-Fetch-Site") {
		case "", "none", "same-origin":
		default:
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-site request refused"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
