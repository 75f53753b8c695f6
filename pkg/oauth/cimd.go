package oauth

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/servagent/servagent/pkg/textutil"
)

// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document):
// a client_id that is an https URL names a JSON document, published by the
// client, that lists its name and redirect URIs. Claude.ai and ChatGPT
// register this way, so a connector needs only the server's URL. Anyone can
// publish a document, so these clients are public (PKCE, no secret) and
// always go through the operator's approval page.

const (
	maxDocBytes      = 5 << 10
	docFetchTimeout  = 5 * time.Second
	maxDocTTL        = 24 * time.Hour
	defaultDocTTL    = 10 * time.Minute // a document without caching headers
	maxDocCache      = 500
	maxClientIDURL   = 1000
	maxDocRedirects  = 3
	maxDocHeaderSize = 16 << 10
	// Fetches are requests servagent makes for anyone who asks: at most
	// this many at once (more fail at once), one per URL, every answer kept
	// a while even when the document says no-store, failures briefly too.
	maxDocFetches = 8
	minDocTTL     = time.Minute
	docFailTTL    = 10 * time.Second
)

// isURLClientID reports whether a client_id names a metadata document.
// Other ids (registered "client-…", the static one) never contain a scheme.
func isURLClientID(id string) bool {
	l := strings.ToLower(id)
	return strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://")
}

// docError says why a document cannot be used; the text is shown to the
// user on the error page or to the client as error_description.
// It wraps the cause when there is one (docErrorf with %w).
type docError struct{ err error }

func (e *docError) Error() string { return e.err.Error() }

func (e *docError) Unwrap() error { return e.err }

func docErrorf(format string, args ...any) error { return &docError{fmt.Errorf(format, args...)} }

// clientDocument is the part of a metadata document we use. Unknown fields
// are ignored.
type clientDocument struct {
	ClientID                string          `json:"client_id"`
	ClientName              string          `json:"client_name"`
	RedirectURIs            []string        `json:"redirect_uris"`
	GrantTypes              []string        `json:"grant_types"`
	ResponseTypes           []string        `json:"response_types"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	ClientSecret            json.RawMessage `json:"client_secret"`
}

// cachedDoc is a usable document, or (err set) why the last fetch failed.
type cachedDoc struct {
	client  clientRow
	err     error
	expires time.Time
}

// docFetcher fetches and caches metadata documents. Only public addresses
// are dialed (checked on the address actually connected to, so a name that
// resolves to a private address at dial time is refused too), unless
// allowLoopback, which a test CA file turns on.
type docFetcher struct {
	client        *http.Client
	allowLoopback bool
	now           func() time.Time

	slots chan struct{} // one per fetch under way, at most maxDocFetches

	mu       sync.Mutex
	cache    map[string]cachedDoc
	inflight map[string]*docCall
}

func newDocFetcher(caFile string, now func() time.Time) (*docFetcher, error) {
	f := &docFetcher{now: now, cache: map[string]cachedDoc{}, inflight: map[string]*docCall{},
		slots: make(chan struct{}, maxDocFetches)}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CIMD CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CIMD CA file %s holds no PEM certificate", caFile)
		}
		tlsConf.RootCAs = pool
		f.allowLoopback = true
	}
	dialer := &net.Dialer{Timeout: docFetchTimeout, Control: f.checkDial}
	f.client = &http.Client{
		Timeout: docFetchTimeout,
		Transport: &http.Transport{
			Proxy:                  nil, // a proxy would dial for us, past checkDial
			DialContext:            dialer.DialContext,
			TLSClientConfig:        tlsConf,
			TLSHandshakeTimeout:    docFetchTimeout,
			ResponseHeaderTimeout:  docFetchTimeout,
			MaxResponseHeaderBytes: maxDocHeaderSize,
			MaxIdleConns:           4,
			IdleConnTimeout:        30 * time.Second,
			ForceAttemptHTTP2:      true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxDocRedirects {
				return docErrorf("too many redirects")
			}
			if req.URL.Scheme != "https" || req.URL.Host != via[0].URL.Host {
				return docErrorf("it redirects to another host (%s)", req.URL.Host)
			}
			return nil
		},
	}
	return f, nil
}

// blockedAddrError is a dial refused by checkDial.
type blockedAddrError struct{ addr netip.Addr }

func (e *blockedAddrError) Error() string {
	return "its host resolves to " + e.addr.String() + ", which is not a public address"
}

// checkDial runs on the resolved address just before connect.
func (f *docFetcher) checkDial(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("unexpected dial address %q", address)
	}
	ip = ip.Unmap()
	if f.allowLoopback && ip.IsLoopback() {
		return nil
	}
	if !isPublicAddr(ip) {
		return &blockedAddrError{ip}
	}
	return nil
}

// nonPublic are ranges that netip's predicates do not cover.
var nonPublic = sync.OnceValue(func() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"192.88.99.0/24",  // 6to4 relay anycast
		"::/96",           // IPv4-compatible (deprecated), e.g. ::127.0.0.1
		"::ffff:0:0:0/96", // IPv4-translated (SIIT)
		"64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
		"2001::/23", // IETF protocol assignments: Teredo, ORCHID, benchmarking...
		"2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16",
		"fec0::/10", // site-local (deprecated, still routed inside some sites)
	} {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
})

func isPublicAddr(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic() {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// validateDocURL checks the shape of a URL client_id before any fetch.
func validateDocURL(raw string) error {
	if len(raw) > maxClientIDURL {
		return docErrorf("the client_id URL is longer than %d characters", maxClientIDURL)
	}
	if !isURIChars(raw) {
		// Never echoed: it could carry a sentence into the error page.
		return docErrorf("the client_id contains characters not allowed in a URL (spaces, quotes, non-ASCII)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return docErrorf("the client_id is not a valid URL")
	}
	if u.Scheme != "https" {
		return docErrorf("a client_id URL must use https")
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return docErrorf("the client_id URL has no host")
	case !isASCIIHost(u.Hostname()):
		// The approval page shows this host as what to trust: no Unicode
		// lookalikes (claudе.ai with a Cyrillic е, "。" for a dot).
		return docErrorf("the client_id URL's host must be plain ASCII (letters, digits, hyphens; an international name in its xn-- form)")
	case u.User != nil:
		return docErrorf("the client_id URL must not contain user information")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return docErrorf("the client_id URL must not contain a fragment")
	case u.Path == "" || u.Path == "/":
		return docErrorf("the client_id URL must have a path")
	case slices.Contains(strings.Split(u.Path, "/"), ".") || slices.Contains(strings.Split(u.Path, "/"), ".."):
		return docErrorf("the client_id URL must not contain dot segments")
	}
	return nil
}

// errDocBusy is a fetch refused because maxDocFetches are under way.
var errDocBusy = errors.New("too many client metadata documents are being fetched right now; try again in a few seconds")

// get returns the client a document describes: from the cache (a usable
// document, or the reason a recent fetch failed), from a fetch of the same
// URL already under way, or fetched now. beforeFetch, if set, runs when the
// answer is not cached and may refuse (it counts the attempt against the
// caller's address). Errors are *docError (the document is unusable),
// errDocBusy, or what beforeFetch returned.
func (f *docFetcher) get(ctx context.Context, id string, beforeFetch func() error) (*clientRow, error) {
	if err := validateDocURL(id); err != nil {
		return nil, err
	}
	if c, err, ok := f.cached(id); ok {
		return c, err
	}
	if beforeFetch != nil {
		if err := beforeFetch(); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	if c, err, ok := f.cachedLocked(id); ok {
		f.mu.Unlock()
		return c, err
	}
	call, running := f.inflight[id]
	if !running {
		select {
		case f.slots <- struct{}{}:
		default:
			f.mu.Unlock()
			return nil, errDocBusy
		}
		call = &docCall{done: make(chan struct{})}
		f.inflight[id] = call
	}
	f.mu.Unlock()
	if running {
		select {
		case <-call.done:
			return call.result()
		case <-ctx.Done():
			return nil, docErrorf("it could not be fetched within %s", docFetchTimeout)
		}
	}
	// Detached from this request: others may be waiting on the result.
	c, ttl, err := f.fetch(context.WithoutCancel(ctx), id)
	now := f.now()
	f.mu.Lock()
	delete(f.inflight, id)
	<-f.slots
	if err != nil {
		f.putLocked(id, cachedDoc{err: err, expires: now.Add(docFailTTL)}, now)
	} else {
		f.putLocked(id, cachedDoc{client: *c, expires: now.Add(max(ttl, minDocTTL))}, now)
	}
	f.mu.Unlock()
	call.c, call.err = c, err
	close(call.done)
	return call.result()
}

// docCall is one fetch under way, shared by every request for its URL.
type docCall struct {
	done chan struct{}
	c    *clientRow
	err  error
}

func (c *docCall) result() (*clientRow, error) {
	if c.err != nil {
		return nil, c.err
	}
	cp := *c.c
	return &cp, nil
}

func (f *docFetcher) cached(id string) (*clientRow, error, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cachedLocked(id)
}

func (f *docFetcher) cachedLocked(id string) (*clientRow, error, bool) {
	d, ok := f.cache[id]
	if !ok || !f.now().Before(d.expires) {
		return nil, nil, false
	}
	if d.err != nil {
		return nil, d.err, true
	}
	c := d.client
	return &c, nil, true
}

func (f *docFetcher) putLocked(id string, d cachedDoc, now time.Time) {
	if _, ok := f.cache[id]; !ok && len(f.cache) >= maxDocCache {
		deleteExpired(f.cache, now)
		for len(f.cache) >= maxDocCache {
			var oldID string
			var old time.Time
			for k, v := range f.cache {
				if oldID == "" || v.expires.Before(old) {
					oldID, old = k, v.expires
				}
			}
			delete(f.cache, oldID)
		}
	}
	f.cache[id] = d
}

func (f *docFetcher) purge(now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	deleteExpired(f.cache, now)
}

func (d cachedDoc) expiry() time.Time { return d.expires }

func (f *docFetcher) fetch(ctx context.Context, id string) (*clientRow, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, docFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, id, nil)
	if err != nil {
		return nil, 0, docErrorf("the client_id is not a valid URL")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		var de *docError
		var be *blockedAddrError
		switch {
		case errors.As(err, &de):
			return nil, 0, de
		case errors.As(err, &be):
			return nil, 0, &docError{be}
		case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
			return nil, 0, docErrorf("it could not be fetched within %s", docFetchTimeout)
		}
		return nil, 0, docErrorf("it could not be fetched (%s)", describeFetchError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, docErrorf("fetching it answered HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocBytes+1))
	if err != nil {
		return nil, 0, docErrorf("it could not be read")
	}
	if len(body) > maxDocBytes {
		return nil, 0, docErrorf("it is larger than %d bytes", maxDocBytes)
	}
	c, err := parseClientDocument(id, body)
	if err != nil {
		return nil, 0, err
	}
	return c, cacheTTL(resp.Header, f.now()), nil
}

// describeFetchError keeps the part of a transport error that helps an
// operator (refused, unknown host, certificate) without Go's request dump.
func describeFetchError(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return "unknown host " + dnsErr.Name
	case errors.As(err, &certErr), errors.As(err, new(x509.UnknownAuthorityError)), errors.As(err, new(x509.HostnameError)):
		return "its TLS certificate is not trusted"
	case errors.As(err, &opErr) && errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &opErr):
		return opErr.Op + " failed"
	}
	return "network error"
}

// parseClientDocument validates a document against the URL it came from.
func parseClientDocument(id string, body []byte) (*clientRow, error) {
	var d clientDocument
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&d); err != nil {
		return nil, docErrorf("it is not a JSON client metadata document")
	}
	if dec.More() {
		return nil, docErrorf("it has data after the JSON object")
	}
	if d.ClientID != id {
		return nil, docErrorf("its client_id (%+q) is not the URL it was fetched from", textutil.ClipBytes(d.ClientID, 200))
	}
	if len(d.ClientSecret) > 0 {
		return nil, docErrorf("it contains a client_secret; a metadata document describes a public client")
	}
	if m := d.TokenEndpointAuthMethod; m != "" && m != "none" {
		return nil, docErrorf("its token_endpoint_auth_method is %+q; only none (a public client with PKCE) is supported", textutil.ClipBytes(m, 60))
	}
	if len(d.RedirectURIs) == 0 {
		return nil, docErrorf("it lists no redirect_uris")
	}
	if len(d.RedirectURIs) > maxRedirectURIs {
		return nil, docErrorf("it lists more than %d redirect_uris", maxRedirectURIs)
	}
	for _, u := range d.RedirectURIs {
		if err := validateRedirectURI(u); err != nil {
			return nil, docErrorf("its redirect URI %+q is rejected: %w", textutil.ClipBytes(u, 200), err)
		}
	}
	if len(d.ResponseTypes) > 0 && !slices.Contains(d.ResponseTypes, "code") {
		return nil, docErrorf(`its response_types do not include "code"`)
	}
	if len(d.GrantTypes) == 0 {
		d.GrantTypes = []string{"authorization_code"} // RFC 7591 §2 default
	}
	if !slices.Contains(d.GrantTypes, "authorization_code") {
		return nil, docErrorf("its grant_types do not include authorization_code")
	}
	var grants []string
	for _, g := range supportedGrantTypes {
		if slices.Contains(d.GrantTypes, g) {
			grants = append(grants, g)
		}
	}
	name := strings.TrimSpace(d.ClientName)
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxClientName ||
		strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }) >= 0 {
		// Shown to the operator: nothing that could disguise it.
		return nil, docErrorf("its client_name is not plain text of at most %d characters", maxClientName)
	}
	uris, _ := json.Marshal(d.RedirectURIs)
	return &clientRow{
		ID:            id,
		Name:          name,
		RedirectURIs:  string(uris),
		GrantTypes:    strings.Join(grants, " "),
		ResponseTypes: "code",
		AuthMethod:    "none",
		Scope:         strings.Join(supportedScopes, " "),
		Document:      true,
	}, nil
}

// cacheTTL is how long a response may be reused per its Cache-Control or
// Expires header (RFC 9111), at most maxDocTTL; 0 means do not cache.
func cacheTTL(h http.Header, now time.Time) time.Duration {
	ttl := time.Duration(-1)
	for _, part := range strings.Split(strings.Join(h.Values("Cache-Control"), ","), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch strings.ToLower(k) {
		case "no-store", "no-cache":
			return 0
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
			if err != nil || n < 0 {
				return 0
			}
			if n > int64(maxDocTTL/time.Second) {
				n = int64(maxDocTTL / time.Second)
			}
			ttl = time.Duration(n) * time.Second
		}
	}
	if ttl < 0 {
		if exp := h.Get("Expires"); exp != "" {
			t, err := http.ParseTime(exp)
			if err != nil {
				return 0 // RFC 9111 §5.3: an invalid date means already expired
			}
			base := now
			if d, err := http.ParseTime(h.Get("Date")); err == nil {
				base = d
			}
			ttl = max(t.Sub(base), 0)
		} else {
			ttl = defaultDocTTL
		}
	}
	return min(ttl, maxDocTTL)
}

// docHost is the host of a client_id URL, shown on the approval page.
func docHost(id string) string {
	if u, err := url.Parse(id); err == nil {
		return u.Host
	}
	return id
}
