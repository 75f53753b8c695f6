package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Pending approvals are stateless: GET /mcp/authorize puts the validated
// request in the page's hidden request_id field, signed with a key that
// lives in memory, expiring, and bound to the browser cookie. A flood of
// authorization requests therefore fills nothing the operator's page
// depends on. The signature covers the cookie, so a page (or a forged
// cross-site form) only works from the browser it was given to; csrf_token
// is a second value derived from both. Answered requests are remembered
// until they expire, so one page yields one code. A restart changes the
// key: open pages must be reloaded from the client.

// pendingAuth is an authorization request validated by GET /mcp/authorize
// and waiting for the operator's approval.
type pendingAuth struct {
	nonce      string
	clientID   string
	clientName string
	document   bool // client from a metadata document
	grant
	expires time.Time
}

// errBadSignature is a request_id not signed by us for this browser.
var errBadSignature = errors.New("bad signature")

func (s *Server) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.approvalKey)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// signPending is the request_id field of p for the browser cookie value.
func (s *Server) signPending(p *pendingAuth, browser string) string {
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return ""
	}
	payload := url.Values{
		"n": {p.nonce}, "c": {p.clientID}, "cn": {p.clientName}, "d": {flag(p.document)},
		"r": {p.redirectURI}, "g": {flag(p.redirectGiven)}, "s": {p.state}, "ch": {p.challenge},
		"sc": {p.scope}, "res": {p.resource}, "x": {strconv.FormatInt(p.expires.Unix(), 10)},
	}.Encode()
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." +
		base64.RawURLEncoding.EncodeToString(s.mac("servagent approval", browser, payload))
}

// csrfFor is the csrf_token field of a request for the browser.
func (s *Server) csrfFor(nonce, browser string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("servagent csrf", browser, nonce))
}

// openPending checks a request_id against the browser cookie value and
// decodes it. Expiry is for the caller to check.
func (s *Server) openPending(field, browser string) (*pendingAuth, error) {
	enc, sig, ok := strings.Cut(field, ".")
	if !ok {
		return nil, errBadSignature
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(enc)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(got, s.mac("servagent approval", browser, string(payload))) {
		return nil, errBadSignature
	}
	v, err := url.ParseQuery(string(payload))
	if err != nil {
		return nil, errBadSignature
	}
	exp, err := strconv.ParseInt(v.Get("x"), 10, 64)
	if err != nil || v.Get("n") == "" {
		return nil, errBadSignature
	}
	return &pendingAuth{
		nonce: v.Get("n"), clientID: v.Get("c"), clientName: v.Get("cn"), document: v.Get("d") == "1",
		grant: grant{
			redirectURI: v.Get("r"), redirectGiven: v.Get("g") == "1", state: v.Get("s"), challenge: v.Get("ch"),
			scope: v.Get("sc"), resource: v.Get("res"),
		},
		expires: time.Unix(exp, 0),
	}, nil
}

// maxAnswered bounds the answered set; only approvals (which take the
// operator's secret) are sure to be recorded once it is full.
const maxAnswered = 10000

// answeredSet remembers answered requests by nonce until they expire.
type answeredSet struct {
	mu sync.Mutex
	m  map[string]answer
}

type answer struct {
	expires  time.Time
	approved bool
}

func newAnsweredSet() *answeredSet { return &answeredSet{m: map[string]answer{}} }

// add records the answer to nonce; false means it was already answered
// (or, for an approval, that the set is full of approvals). A denial is
// recorded only if there is room: anyone may deny their own pages, and
// replaying a denial only repeats access_denied.
func (a *answeredSet) add(nonce string, expires time.Time, approved bool, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.m[nonce]; ok && now.Before(old.expires) {
		return false
	}
	if len(a.m) >= maxAnswered {
		deleteExpired(a.m, now)
	}
	if len(a.m) >= maxAnswered {
		if !approved {
			return true
		}
		evicted := false
		for k, v := range a.m {
			if !v.approved {
				delete(a.m, k)
				evicted = true
				break
			}
		}
		if !evicted {
			return false
		}
	}
	a.m[nonce] = answer{expires: expires, approved: approved}
	return true
}

func (a *answeredSet) purge(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	deleteExpired(a.m, now)
}

func (v answer) expiry() time.Time { return v.expires }

// deleteExpired removes the entries of m whose expiry is not after now.
func deleteExpired[K comparable, V interface{ expiry() time.Time }](m map[K]V, now time.Time) {
	maps.DeleteFunc(m, func(_ K, v V) bool { return !now.Before(v.expiry()) })
}
