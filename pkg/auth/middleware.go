package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/servagent/servagent/pkg/httpjson"
	"github.com/servagent/servagent/pkg/ratelimit"
	"github.com/servagent/servagent/pkg/secret"
)

// OAuthVerifier checks an OAuth access token (nil when OAuth is off).
type OAuthVerifier func(ctx context.Context, token string) (*sdkauth.TokenInfo, error)

// Options configure the middleware.
type Options struct {
	APIKey           string
	OAuth            OAuthVerifier
	BasicUser        string // OAuth CLIENT_ID
	BasicPassword    string // OAuth CLIENT_SECRET
	ResourceMetadata string // URL for WWW-Authenticate resource_metadata=
	Scopes           []string
	InsecureNoAuth   bool // every rule is public (loopback-only, enforced by serve)
	OnAuthenticated  func(r *http.Request, m Method)
	OnAuthFailure    func(r *http.Request, reason string)
	// Failures limits failed attempts per client address and in all (nil:
	// DefaultFailures), so a weak operator-chosen key cannot be guessed
	// quickly. The address is ratelimit.AddrKey of ratelimit.ClientAddr:
	// the peer, or the forwarded client when the server recorded one from a
	// trusted proxy; IPv6 addresses by their /64.
	Failures *ratelimit.Failures
	// Penalty delays each refusal past a limit, and is how long a penalised
	// check holds its in-flight slot (0: one second).
	Penalty time.Duration
}

type methodKey struct{}

// MethodFrom returns the method that authenticated the request's context.
func MethodFrom(ctx context.Context) Method {
	m, _ := ctx.Value(methodKey{}).(Method)
	return m
}

// Middleware enforces Matrix in front of next.
func Middleware(opts Options, next http.Handler) http.Handler {
	// API-key sessions carry a far expiry: the key has no lifetime of its own.
	noExpiry := time.Now().AddDate(100, 0, 0)
	if opts.Failures == nil {
		opts.Failures = DefaultFailures()
	}
	if opts.Penalty <= 0 {
		opts.Penalty = time.Second
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rule := Lookup(r.URL.Path)
		if rule == nil {
			httpjson.Error(w, http.StatusNotFound, "not_found", "no such endpoint")
			return
		}
		if rule.Allows(Public) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), methodKey{}, Public)))
			return
		}
		if opts.InsecureNoAuth {
			info := &sdkauth.TokenInfo{UserID: "insecure-no-auth", Expiration: noExpiry, Extra: map[string]any{"auth": string(NoAuth)}}
			serveAuthenticated(w, r, next, NoAuth, info, opts)
			return
		}
		attempt, ok := opts.Failures.Begin(ratelimit.AddrKey(ratelimit.ClientAddr(r)), time.Now())
		if !ok {
			// Past the limit with its penalised checks all running: the
			// credential is not looked at, so parallel guesses buy nothing.
			// The answer waits out the penalty too, so a flood of refusals
			// costs the flooder a held request each rather than spinning.
			if opts.OnAuthFailure != nil {
				opts.OnAuthFailure(r, "too many failed attempts in flight (not checked)")
			}
			pause(r, opts.Penalty)
			tooMany(w, "too many failed authentication attempts from this address; wait a minute")
			return
		}
		defer attempt.End(opts.Penalty)
		if rule.Allows(Basic) {
			checkBasic(w, r, next, attempt, opts)
			return
		}
		checkBearer(w, r, next, rule, attempt, opts, noExpiry)
	})
}

// checkBasic authenticates the operator's Basic credentials.
func checkBasic(w http.ResponseWriter, r *http.Request, next http.Handler, attempt *ratelimit.Attempt, opts Options) {
	user, pass, ok := r.BasicAuth()
	if !ok || opts.BasicUser == "" || !secret.Equal(user, opts.BasicUser) || !secret.Equal(pass, opts.BasicPassword) {
		if limited(w, r, attempt, opts, "missing or wrong Basic credentials") {
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="servagent"`)
		httpjson.Error(w, http.StatusUnauthorized, "invalid_client", "this endpoint needs HTTP Basic with the operator's OAuth client id and secret")
		return
	}
	attempt.End(0)
	serveAuthenticated(w, r, next, Basic, nil, opts)
}

// checkBearer authenticates a bearer token: the API key, else an OAuth
// access token.
func checkBearer(w http.ResponseWriter, r *http.Request, next http.Handler, rule *Rule, attempt *ratelimit.Attempt, opts Options, noExpiry time.Time) {
	token, ok := bearer(r)
	if !ok {
		if limited(w, r, attempt, opts, "no bearer token") {
			return
		}
		unauthorized(w, rule, opts, "missing bearer token: send Authorization: Bearer <key>")
		return
	}
	if rule.Allows(APIKey) && opts.APIKey != "" && secret.Equal(token, opts.APIKey) {
		attempt.End(0)
		info := &sdkauth.TokenInfo{UserID: APIKeyOwner, Expiration: noExpiry, Extra: map[string]any{"auth": string(APIKey)}}
		serveAuthenticated(w, r, next, APIKey, info, opts)
		return
	}
	if rule.Allows(OAuth) && opts.OAuth != nil {
		verified, err := opts.OAuth(r.Context(), token)
		if err == nil && verified != nil && verified.Expiration.After(time.Now()) {
			info := &sdkauth.TokenInfo{Scopes: verified.Scopes, Expiration: verified.Expiration,
				UserID: OAuthOwner(verified.UserID), Extra: map[string]any{}}
			for k, v := range verified.Extra {
				info.Extra[k] = v
			}
			info.Extra["auth"] = string(OAuth)
			attempt.End(0)
			serveAuthenticated(w, r, next, OAuth, info, opts)
			return
		}
		if err != nil && !errors.Is(err, sdkauth.ErrInvalidToken) {
			if opts.OnAuthFailure != nil { // the client is told only that it failed; the operator why
				opts.OnAuthFailure(r, "token verification failed: "+err.Error())
			}
			httpjson.Error(w, http.StatusInternalServerError, "server_error", "token verification failed")
			return
		}
	}
	if limited(w, r, attempt, opts, "invalid bearer token") {
		return
	}
	unauthorized(w, rule, opts, "invalid or expired token")
}

// serveAuthenticated records the method and, for MCP endpoints, hands the
// token info to the go-sdk the only way it accepts it: through its own
// RequireBearerToken middleware, fed with the result we already verified.
// The SDK then binds each session to TokenInfo.UserID, so one client cannot
// drive another client's session.
func serveAuthenticated(w http.ResponseWriter, r *http.Request, next http.Handler, m Method, info *sdkauth.TokenInfo, opts Options) {
	if opts.OnAuthenticated != nil {
		opts.OnAuthenticated(r, m)
	}
	r = r.WithContext(context.WithValue(r.Context(), methodKey{}, m))
	if info == nil {
		next.ServeHTTP(w, r)
		return
	}
	if _, hasBearer := bearer(r); !hasBearer {
		// --insecure-no-auth without a header: nothing for the SDK to read.
		next.ServeHTTP(w, r)
		return
	}
	sdkauth.RequireBearerToken(func(context.Context, string, *http.Request) (*sdkauth.TokenInfo, error) {
		return info, nil
	}, nil)(next).ServeHTTP(w, r)
}

// DefaultFailures is the failed-auth limiter of a server: 30 failures a
// minute per address, 300 a minute in all (a backstop for when addresses
// are cheap), and two penalised checks in flight for an address past its
// own limit.
func DefaultFailures() *ratelimit.Failures {
	return ratelimit.NewFailures(30, 300, time.Minute, 2)
}

// limited counts a failed attempt and, past the address's limit or the
// global one, answers 429 after a pause (true: the response is written).
// Only failures are counted and only after the credential was checked, so
// a correct credential is never refused by the count; the pause makes each
// wrong guess past the limit hold one of the address's few in-flight slots
// for a second, which bounds its guess rate whatever its concurrency.
func limited(w http.ResponseWriter, r *http.Request, a *ratelimit.Attempt, opts Options, reason string) bool {
	overAddr, overGlobal := a.Fail(time.Now())
	if opts.OnAuthFailure != nil {
		opts.OnAuthFailure(r, reason)
	}
	if !overAddr && !overGlobal {
		return false
	}
	pause(r, opts.Penalty)
	if overAddr {
		tooMany(w, "too many failed authentication attempts from this address; wait a minute")
	} else {
		tooMany(w, "too many failed authentication attempts on this server; wait a minute")
	}
	return true
}

// pause waits d, or until the client has gone.
func pause(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

func tooMany(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "60")
	httpjson.Error(w, http.StatusTooManyRequests, "too_many_requests", msg)
}

// Owner ids carry the authentication method, so a credential of one kind
// can never pass for one of another kind (an OAuth client registered as
// "api-key" does not own the API key's sessions and jobs).
const APIKeyOwner = string(APIKey) + ":key"

// OAuthOwner is the owner id of an OAuth client's tokens.
func OAuthOwner(clientID string) string { return string(OAuth) + ":" + clientID }

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func unauthorized(w http.ResponseWriter, rule *Rule, opts Options, msg string) {
	challenge := `Bearer realm="servagent"`
	if rule.Allows(OAuth) && opts.OAuth != nil && opts.ResourceMetadata != "" {
		challenge = fmt.Sprintf(`Bearer resource_metadata=%q`, opts.ResourceMetadata)
		if len(opts.Scopes) > 0 {
			challenge += fmt.Sprintf(`, scope=%q`, strings.Join(opts.Scopes, " "))
		}
	}
	w.Header().Set("WWW-Authenticate", challenge)
	httpjson.Error(w, http.StatusUnauthorized, "unauthorized", msg)
}

// BasicHeader builds an Authorization value for HTTP Basic (tests, clients).
func BasicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}
