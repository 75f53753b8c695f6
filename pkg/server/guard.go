package server

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/servagent/servagent/pkg/httpjson"
	"github.com/servagent/servagent/pkg/netname"
	"github.com/servagent/servagent/pkg/ratelimit"
	"github.com/servagent/servagent/pkg/textutil"
)

// Request guards in front of authentication: allowed Host names, the
// browser guard of --insecure-no-auth, body deadlines, the client address
// behind a trusted proxy, and bounded logging of request values.

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
		httpjson.Write(w, http.StatusForbidden, map[string]string{"error": "Host header not in SERVAGENT_ALLOWED_HOSTS"})
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
		if !netname.IsLoopbackHost(host) {
			httpjson.Write(w, http.StatusForbidden, map[string]string{"error": "without authentication only loopback Host names are accepted"})
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || !netname.IsLoopbackHost(u.Hostname()) {
				httpjson.Write(w, http.StatusForbidden, map[string]string{"error": "cross-origin request refused"})
				return
			}
		}
		switch r.Header.Get("Sec-Fetch-Site") {
		case "", "none", "same-origin":
		default:
			httpjson.Write(w, http.StatusForbidden, map[string]string{"error": "cross-site request refused"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Limits bound what a client that has not authenticated can hold. Zero
// fields take the defaults below.
type Limits struct {
	// BodyGrace is how long any request body may take before BodyMinRate
	// applies (default 10 s).
	BodyGrace time.Duration
	// BodyMinRate is the average rate, in bytes a second, a body must keep
	// up after BodyGrace (default 1 KiB/s): a slow-but-steady upload of any
	// size streams, one byte every few seconds does not hold a descriptor.
	BodyMinRate int64
	// BodyIdle cuts a body that sends nothing for this long, however much it
	// sent before (default 30 s).
	BodyIdle time.Duration
	// UnauthConnsPerAddr caps the connections one address holds open
	// before any of them authenticates (default 64); past it the address's
	// oldest such connection is closed for the new one. Trusted proxies are
	// exempt: their connections carry many clients.
	UnauthConnsPerAddr int
	// FailurePenalty delays each refused guess past the failed-auth limits
	// and is how long it holds one of its address's in-flight slots
	// (default 1 s).
	FailurePenalty time.Duration
	// MaxConcurrentStreams caps the HTTP/2 streams of one connection
	// (default 32), so one connection cannot carry hundreds of parallel
	// requests.
	MaxConcurrentStreams int
}

func (l Limits) withDefaults() Limits {
	if l.BodyGrace <= 0 {
		l.BodyGrace = 10 * time.Second
	}
	if l.BodyMinRate <= 0 {
		l.BodyMinRate = 1024
	}
	if l.BodyIdle <= 0 {
		l.BodyIdle = 30 * time.Second
	}
	if l.UnauthConnsPerAddr <= 0 {
		l.UnauthConnsPerAddr = 64
	}
	if l.FailurePenalty <= 0 {
		l.FailurePenalty = time.Second
	}
	if l.MaxConcurrentStreams <= 0 {
		l.MaxConcurrentStreams = 32
	}
	return l
}

// clientAddress records, once per request, the address the failed-auth
// limiters count on: the forwarded client when the peer is a trusted proxy.
func clientAddress(p *ratelimit.Proxies, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(ratelimit.WithClient(r.Context(), p.Client(r))))
	})
}

// bodyDeadline puts a read deadline on request bodies that moves as bytes
// arrive: BodyGrace plus one second per BodyMinRate bytes received, and
// never more than BodyIdle past the last read. The deadline also bounds
// the server draining a body the handler did not read (a refused
// request), and is lifted at the end of the body, so long tool calls and
// event streams after it are unaffected.
func bodyDeadline(l Limits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		b := &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), limits: l, start: time.Now()}
		if b.extend() != nil {
			next.ServeHTTP(w, r) // a writer without deadlines (not a network connection)
			return
		}
		r.Body = b
		next.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	limits Limits
	start  time.Time
	got    int64
	done   bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.got += int64(n)
	if b.done {
		return n, err
	}
	if err == io.EOF {
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	} else if n > 0 {
		b.extend()
	}
	return n, err
}

func (b *deadlineBody) extend() error {
	d := b.start.Add(b.limits.BodyGrace + time.Duration(float64(b.got)/float64(b.limits.BodyMinRate)*float64(time.Second)))
	if idle := time.Now().Add(b.limits.BodyIdle); idle.Before(d) {
		d = idle
	}
	return b.rc.SetReadDeadline(d)
}

// logged bounds a request value (a path, a header) before it reaches the
// log: anyone can send a megabyte of path before authenticating.
func logged(s string) string { return textutil.ClipBytesSized(s, 200) }
