// Package oauth is servagent's OAuth 2.1 authorization server for the /mcp
// endpoint: authorization code with PKCE (S256 only), refresh-token rotation,
// dynamic client registration guarded by the operator credentials, token
// revocation and the RFC 8414 / RFC 9728 metadata. Clients, codes and tokens
// live in SQLite; codes and tokens only as SHA-256 hashes.
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"gorm.io/gorm"

	"github.com/servagent/servagent/pkg/netname"
	"github.com/servagent/servagent/pkg/ratelimit"
	"github.com/servagent/servagent/pkg/secret"
)

// Lifetimes of what the server issues.
const (
	codeTTL    = 5 * time.Minute
	accessTTL  = time.Hour
	refreshTTL = 30 * 24 * time.Hour
	pendingTTL = 10 * time.Minute
	// Used codes are kept this long past their expiry so that a late replay
	// is still recognised and still revokes what the code issued.
	codeGrace = time.Hour
	// Bounds on what unauthenticated callers of GET /authorize can make.
	authorizePerMinute = 30
	// Approval attempts a minute: per approval page, and per address.
	approvalsPerPage = 5
	approvalsPerAddr = 20
	// maxTokenLen bounds what we hash and look up; ours are ~50 characters.
	maxTokenLen = 512
)

// Approval modes.
const (
	ApprovalOperator = "operator"
	ApprovalAuto     = "auto"
)

// Supported protocol values, advertised in the metadata and enforced.
var (
	supportedScopes      = []string{"mcp"}
	supportedGrantTypes  = []string{"authorization_code", "refresh_token"}
	supportedAuthMethods = []string{"client_secret_post", "client_secret_basic", "none"}
)

// Static redirect URIs of the hosted AI clients that use the operator
// credentials directly.
var staticRedirectURIs = []string{
	"https://claude.ai/api/mcp/auth_callback",
	"https://claude.com/api/mcp/auth_callback",
	"https://chatgpt.com/connector_platform_oauth_redirect",
}

// Options configures a Server.
type Options struct {
	IssuerURL         string   // e.g. https://example.com/mcp (also the resource URL)
	ClientID          string   // static operator client; "" = none (registration closed)
	ClientSecret      string   // secret of the static client
	DBPath            string   // SQLite file
	ExtraRedirectURIs []string // more redirect URIs for the static client
	Approval          string   // "operator" (default) or "auto"
	ApprovalSecret    string   // secret the approval page asks for
	// DisableCIMD refuses URL client ids (client ID metadata documents).
	DisableCIMD bool
	// CIMDCAFile is an extra CA bundle trusted when fetching metadata
	// documents, for tests and private CAs: setting it also allows
	// documents on loopback hosts, which are otherwise refused.
	CIMDCAFile string
	// RefreshReuseInterval is how long after a rotation the old refresh
	// token may be presented again and get the same new pair (clients that
	// retry a refresh concurrently); 0 is strict: any reuse revokes the
	// family.
	RefreshReuseInterval time.Duration
	Logger               *slog.Logger
	Now                  func() time.Time // tests
}

// Server is the authorization server. It is safe for concurrent use.
type Server struct {
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	db       *gorm.DB
	issuer   string // no trailing slash
	resource string // == issuer
	origin   string // scheme://host of the issuer
	basePath string // path of the issuer, e.g. /mcp
	secure   bool   // issuer is https: cookies get Secure and __Host-

	approvalKey []byte             // signs pending approvals (approval.go)
	answered    *answeredSet       // approval requests already answered
	docs        *docFetcher        // nil when CIMD is off
	rotated     *rotationLog       // recent rotations, for RefreshReuseInterval
	authzGet    *ratelimit.Limiter // authorization requests (GET /authorize) per client address
	approve     *ratelimit.Limiter // approval attempts per client address
	approvePage *ratelimit.Limiter // approval attempts per approval request
	regFail     *ratelimit.Limiter // failed registration logins per client IP
	authFail    *ratelimit.Limiter // failed client authentications at /token and /revoke per client IP

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// New opens (or creates) the database, registers the static client and
// starts the purge of expired rows. Close releases them.
func New(ctx context.Context, opts Options) (*Server, error) {
	issuer, u, err := checkOptions(&opts)
	if err != nil {
		return nil, err
	}
	s := newServer(opts, issuer, u)
	if !opts.DisableCIMD {
		if s.docs, err = newDocFetcher(opts.CIMDCAFile, s.now); err != nil {
			return nil, err
		}
	}
	db, err := openDB(ctx, opts.DBPath)
	if err != nil {
		return nil, err
	}
	s.db = db
	if err := s.syncStaticClient(ctx); err != nil {
		s.closeDB()
		return nil, err
	}
	if err := s.purge(ctx); err != nil {
		s.log.Warn("purging expired rows", "err", err)
	}
	go s.purgeLoop(10 * time.Minute)
	return s, nil
}

// checkOptions validates opts, filling the default approval mode, and
// returns the issuer URL without its trailing slash, and parsed.
func checkOptions(opts *Options) (issuer string, u *url.URL, err error) {
	issuer, err = netname.IssuerURL(opts.IssuerURL)
	if err != nil {
		return "", nil, fmt.Errorf("invalid issuer URL %q: want %w", opts.IssuerURL, err)
	}
	if u, err = url.Parse(issuer); err != nil {
		return "", nil, fmt.Errorf("issuer URL %q: %w", opts.IssuerURL, err) // netname.IssuerURL parsed it already
	}
	if (opts.ClientID == "") != (opts.ClientSecret == "") {
		return "", nil, errors.New("set both the client id and the client secret, or neither")
	}
	switch opts.Approval {
	case "":
		opts.Approval = ApprovalOperator
	case ApprovalOperator, ApprovalAuto:
	default:
		return "", nil, fmt.Errorf("approval mode %q: want operator or auto", opts.Approval)
	}
	if opts.Approval == ApprovalOperator && opts.ApprovalSecret == "" {
		// An empty secret would let anyone approve by submitting nothing.
		return "", nil, errors.New("operator approval needs an approval secret (the API key or SERVAGENT_OAUTH_APPROVAL_PASSWORD)")
	}
	if isURLClientID(opts.ClientID) {
		return "", nil, fmt.Errorf("static client id %q must not be a URL (URL client ids name metadata documents)", opts.ClientID)
	}
	if opts.RefreshReuseInterval < 0 {
		return "", nil, errors.New("negative refresh reuse interval")
	}
	for _, r := range opts.ExtraRedirectURIs {
		if err := validateRedirectURI(r); err != nil {
			return "", nil, fmt.Errorf("extra redirect URI %q: %w", r, err)
		}
	}
	return issuer, u, nil
}

// newServer builds the Server of checked options, without its database
// or document fetcher.
func newServer(opts Options, issuer string, u *url.URL) *Server {
	s := &Server{
		opts:        opts,
		log:         opts.Logger,
		now:         opts.Now,
		issuer:      issuer,
		resource:    issuer,
		origin:      u.Scheme + "://" + u.Host,
		basePath:    u.Path,
		secure:      u.Scheme == "https",
		approvalKey: []byte(secret.NewKey()),
		answered:    newAnsweredSet(),
		// Floods of authorization requests must not lock out a new
		// address (the operator's): that limiter forgets the oldest.
		authzGet:    ratelimit.NewEvicting(authorizePerMinute, time.Minute),
		approve:     ratelimit.New(approvalsPerAddr, time.Minute),
		approvePage: ratelimit.NewEvicting(approvalsPerPage, time.Minute),
		regFail:     ratelimit.New(10, time.Minute),
		authFail:    ratelimit.New(20, time.Minute),
		rotated:     newRotationLog(opts.RefreshReuseInterval),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Close stops the purge goroutine and closes the database.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.closeErr = s.closeDB()
	})
	return s.closeErr
}

func (s *Server) closeDB() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// ResourceMetadataURL is the RFC 9728 metadata URL to put in
// WWW-Authenticate: Bearer resource_metadata="...".
func (s *Server) ResourceMetadataURL() string {
	return s.issuer + "/.well-known/oauth-protected-resource"
}

// Scopes returns the scopes this server issues.
func (s *Server) Scopes() []string { return append([]string(nil), supportedScopes...) }

// VerifyAccessToken checks a bearer token presented at /mcp. Unknown,
// expired, revoked and other-audience tokens give an error wrapping
// auth.ErrInvalidToken.
func (s *Server) VerifyAccessToken(ctx context.Context, token string) (*auth.TokenInfo, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, fmt.Errorf("%w: malformed", auth.ErrInvalidToken)
	}
	var row tokenRow
	hash := secret.Hash(token)
	err := s.db.WithContext(ctx).Where("hash = ? AND kind = ?", hash, kindAccess).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("%w: unknown token", auth.ErrInvalidToken)
	}
	if err != nil {
		return nil, fmt.Errorf("looking up token: %w", err)
	}
	now := s.now().Unix()
	switch {
	case row.Revoked:
		return nil, fmt.Errorf("%w: revoked", auth.ErrInvalidToken)
	case row.ExpiresAt <= now:
		return nil, fmt.Errorf("%w: expired", auth.ErrInvalidToken)
	case s.docs == nil && isURLClientID(row.ClientID):
		// CIMD was turned off: its clients' tokens stop working too.
		return nil, fmt.Errorf("%w: client ID metadata documents are turned off", auth.ErrInvalidToken)
	case row.Resource != s.resource:
		// RFC 8707: a token minted for another resource must not open ours.
		return nil, fmt.Errorf("%w: token audience is not this server", auth.ErrInvalidToken)
	}
	// The pair is in use: its old refresh token may no longer get it.
	s.rotated.used(hash)
	return &auth.TokenInfo{
		Scopes:     splitScope(row.Scope),
		Expiration: time.Unix(row.ExpiresAt, 0),
		UserID:     row.ClientID,
		Extra:      map[string]any{"client_id": row.ClientID, "auth": "oauth"},
	}, nil
}

// syncStaticClient upserts the operator client and removes any static
// client left from previous credentials, with its tokens: changing the
// operator credentials must log out what the old ones let in.
func (s *Server) syncStaticClient(ctx context.Context) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var stale []clientRow
		if err := tx.Where("static = ? AND id <> ?", true, s.opts.ClientID).Find(&stale).Error; err != nil {
			return fmt.Errorf("reading clients: %w", err)
		}
		for _, c := range stale {
			if err := s.deleteClientTx(tx, c.ID); err != nil {
				return err
			}
			s.log.Info("removed the previous static client", "client_id", c.ID)
		}
		if s.opts.ClientID == "" {
			return nil
		}
		uris := append(append([]string(nil), staticRedirectURIs...), s.opts.ExtraRedirectURIs...)
		urisJSON, _ := json.Marshal(uris)
		row := clientRow{
			ID:            s.opts.ClientID,
			SecretHash:    secret.Hash(s.opts.ClientSecret),
			Name:          "servagent operator client",
			RedirectURIs:  string(urisJSON),
			GrantTypes:    strings.Join(supportedGrantTypes, " "),
			ResponseTypes: "code",
			AuthMethod:    "client_secret_basic",
			Scope:         strings.Join(supportedScopes, " "),
			Static:        true,
			IssuedAt:      s.now().Unix(),
		}
		var old clientRow
		err := tx.Where("id = ?", row.ID).Take(&old).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			return tx.Create(&row).Error
		case err != nil:
			return fmt.Errorf("reading clients: %w", err)
		}
		if !old.Static {
			// A dynamically registered client cannot collide with ours
			// (different id shape), but never silently take one over.
			return fmt.Errorf("client id %q already belongs to a registered client", row.ID)
		}
		if !secret.Equal(old.SecretHash, row.SecretHash) {
			// New secret: the old one may have leaked, so end its sessions.
			if err := tx.Where("client_id = ?", row.ID).Delete(&tokenRow{}).Error; err != nil {
				return err
			}
			if err := tx.Where("client_id = ?", row.ID).Delete(&codeRow{}).Error; err != nil {
				return err
			}
			s.log.Info("static client secret changed; its tokens were revoked", "client_id", row.ID)
		}
		row.IssuedAt = old.IssuedAt
		return tx.Save(&row).Error
	})
}

func (s *Server) deleteClientTx(tx *gorm.DB, id string) error {
	if err := tx.Where("client_id = ?", id).Delete(&tokenRow{}).Error; err != nil {
		return err
	}
	if err := tx.Where("client_id = ?", id).Delete(&codeRow{}).Error; err != nil {
		return err
	}
	return tx.Where("id = ?", id).Delete(&clientRow{}).Error
}

func (s *Server) purgeLoop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := s.purge(ctx); err != nil {
				s.log.Warn("purging expired rows", "err", err)
			}
			cancel()
		}
	}
}

// purge deletes expired codes and tokens and forgets stale in-memory state.
func (s *Server) purge(ctx context.Context) error {
	now := s.now()
	db := s.db.WithContext(ctx)
	if err := db.Where("expires_at < ?", now.Add(-codeGrace).Unix()).Delete(&codeRow{}).Error; err != nil {
		return err
	}
	if err := db.Where("expires_at < ?", now.Unix()).Delete(&tokenRow{}).Error; err != nil {
		return err
	}
	s.answered.purge(now)
	s.rotated.purge(now)
	if s.docs != nil {
		s.docs.purge(now)
	}
	s.authzGet.Purge(now)
	s.approve.Purge(now)
	s.approvePage.Purge(now)
	s.regFail.Purge(now)
	s.authFail.Purge(now)
	return nil
}

// requestedScopes is a scope parameter as clients send it: surrounding and
// repeated spaces ignored, and offline_access dropped (some connectors add
// it to ask for a refresh token, which this server issues to every client
// registered for the refresh_token grant).
func requestedScopes(s string) []string {
	var out []string
	for _, sc := range strings.Fields(s) {
		if sc != "offline_access" {
			out = append(out, sc)
		}
	}
	return out
}

func splitScope(s string) []string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return nil
	}
	return f
}
