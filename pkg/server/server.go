// Package server wires servagent's HTTP surface: routes, the middleware
// order (recover → host check → auth → routes), the MCP transports, TLS and
// graceful shutdown.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/acme"
	"github.com/servagent/servagent/pkg/auth"
	"github.com/servagent/servagent/pkg/buildinfo"
	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/httpjson"
	"github.com/servagent/servagent/pkg/jobs"
	"github.com/servagent/servagent/pkg/ratelimit"
	"github.com/servagent/servagent/pkg/runner"
	"github.com/servagent/servagent/pkg/tools"
	"github.com/servagent/servagent/pkg/upload"
)

// OAuthProvider is the authorization server as the HTTP layer sees it.
type OAuthProvider interface {
	Register(mux *http.ServeMux)
	VerifyAccessToken(ctx context.Context, token string) (*sdkauth.TokenInfo, error)
	ResourceMetadataURL() string
	Scopes() []string
}

// ChallengeSolver answers ACME challenges from the running listeners.
type ChallengeSolver interface {
	HTTPHandler(fallback http.Handler) http.Handler
	ChallengeCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error)
}

// Options configure a Server.
type Options struct {
	// Config is the validated configuration. The server never changes it,
	// and it must not be changed after New: the server keeps the pointer.
	Config *config.Config
	// APIKey is the bearer key in force when it is not Config.APIKey: one
	// generated for this run. Empty: Config.APIKey.
	APIKey string
	// CertFile and KeyFile are the certificate in force when it is not
	// Config's: the ACME-managed one. Empty: Config.TLSCertFile/TLSKeyFile.
	CertFile, KeyFile string
	Logger            *slog.Logger
	Instructions      func() string // called for each new MCP session
	OAuth             OAuthProvider // nil when OAuth is off
	ACME              ChallengeSolver
	// ShutdownTimeout bounds how long in-flight tool calls may run after a
	// shutdown signal before their processes are killed.
	ShutdownTimeout time.Duration
	Runner          *runner.Runner
	// Limits bound unauthenticated clients (zero: defaults).
	Limits Limits
}

// Server is a configured servagent HTTP server.
type Server struct {
	opts    Options
	cfg     *config.Config // as validated; never written
	apiKey  string         // the key in force: Options.APIKey or the config's
	log     *slog.Logger
	env     *tools.Env
	cache   *mcp.SchemaCache
	handler http.Handler
	calls   callTracker // tool calls running now

	bgMu     sync.Mutex
	bg       sync.WaitGroup // background work and session watchers: Serve waits for them
	stopping bool           // Serve is shutting down: no new background work
	certs    *certReloader
	proxies  *ratelimit.Proxies
	limits   Limits

	mu       sync.Mutex
	current  *builtServer                         // the MCP server for the current instructions
	built    []*mcp.Server                        // session servers that may have sessions open: closed at shutdown
	sessions map[*mcp.ServerSession]*sessionCalls // in-flight calls per live session
}

// New builds the server. It does not listen yet.
func New(opts Options) (*Server, error) {
	if opts.Config == nil {
		return nil, errors.New("server: no config")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Instructions == nil {
		opts.Instructions = func() string { return "" }
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if opts.Runner == nil {
		opts.Runner = runner.New()
		if cg, err := runner.DelegatedCgroups(); err == nil {
			opts.Runner.Cgroups = cg
			opts.Logger.Info("commands run in their own cgroup", "cgroup", cg.Dir())
		} else {
			opts.Logger.Info("commands run in their own process group (no cgroup)", "err", err)
		}
	}
	// What serve derived (a generated key, the ACME certificate) is taken
	// beside the validated config, which stays as it was handed over.
	cfg := opts.Config
	apiKey := cmp.Or(opts.APIKey, cfg.APIKey)
	certFile, keyFile := cfg.TLSCertFile, cfg.TLSKeyFile
	if opts.CertFile != "" {
		certFile, keyFile = opts.CertFile, opts.KeyFile
	}
	if apiKey == "" && !cfg.InsecureNoAuth && opts.OAuth == nil {
		return nil, errors.New("server: refusing to serve without a credential (no API key, no OAuth)")
	}
	s := &Server{
		opts:     opts,
		cfg:      cfg,
		apiKey:   apiKey,
		log:      opts.Logger,
		cache:    mcp.NewSchemaCache(),
		sessions: map[*mcp.ServerSession]*sessionCalls{},
		env: tools.NewEnv(tools.Env{
			WorkDir:        cfg.WorkDir,
			CommandTimeout: cfg.CommandTimeout,
			MaxOutputSize:  cfg.MaxOutputSize,
			UploadMaxSize:  cfg.UploadMaxSize,
			Runner:         opts.Runner,
			Logger:         opts.Logger,
			SecretEnv:      SecretEnvNames(),
			SecretValues:   []string{apiKey, cfg.OAuthClientSecret, cfg.OAuthApprovalPassword},
			CommandYield:   cfg.CommandYield,
			Jobs: jobs.NewManager(jobs.Options{Runner: opts.Runner, MaxJobs: cfg.MaxJobs, Retention: cfg.JobRetention,
				MaxOutput: cfg.MaxOutputSize, Logger: opts.Logger}),
		}),
	}
	if certFile != "" {
		r, err := newCertReloader(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		s.certs = r
	}
	s.proxies = ratelimit.NewProxies(cfg.Proxies())
	if len(cfg.AllowedHosts) > 0 && len(cfg.Proxies()) == 0 {
		s.log.Warn("SERVAGENT_ALLOWED_HOSTS is set but SERVAGENT_TRUSTED_PROXIES is not: behind a reverse proxy every client shares the proxy's address and its failed-auth limits; list the proxy (e.g. 127.0.0.1,::1) and have it set X-Forwarded-For")
	}
	s.limits = opts.Limits.withDefaults()
	s.handler = s.routes()
	// Build the first MCP server (schema reflection for every tool) while
	// the process finishes starting, instead of in the first initialize.
	s.background(func() { s.newMCPServer(&http.Request{Header: http.Header{}}) })
	return s, nil
}

// background runs f in a goroutine that Serve waits for before it returns.
// Once Serve is shutting down it starts nothing and reports false.
func (s *Server) background(f func()) bool {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.stopping {
		return false
	}
	s.bg.Go(f)
	return true
}

// endSessionCalls cancels the calls of every live session: a call that is
// not a process (a long copy_path, a listing on a hung mount) ends with its
// context, which the SDK would otherwise never cancel.
func (s *Server) endSessionCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sc := range s.sessions {
		sc.cancel()
	}
}

// stopBackground ends the background work: no new one starts, every MCP
// session still open is closed (which ends its watcher), and it waits, up
// to ShutdownTimeout: a call that ignores its context cannot hold the
// process for ever.
func (s *Server) stopBackground() {
	s.bgMu.Lock()
	s.stopping = true
	s.bgMu.Unlock()
	s.endSessionCalls()
	s.mu.Lock()
	var open []*mcp.ServerSession
	for ss := range s.sessions {
		open = append(open, ss)
	}
	for _, srv := range s.built {
		for ss := range srv.Sessions() {
			if _, seen := s.sessions[ss]; !seen {
				open = append(open, ss) // a session that never made a call
			}
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, ss := range open {
			ss.Close() // waits for the session's calls to return
		}
		s.bg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(s.opts.ShutdownTimeout):
		s.log.Warn("sessions still busy after the shutdown grace; not waiting for them", "sessions", len(open))
	}
}

// SecretEnvNames lists the settings whose values never reach the model or a
// child process.
func SecretEnvNames() []string {
	var out []string
	for _, v := range config.Vars {
		if v.Secret {
			out = append(out, v.Name)
		}
	}
	return out
}

// Handler returns the full HTTP handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	cfg := s.cfg
	// The SDK rejects a non-loopback Host on a loopback connection (DNS
	// rebinding). Behind a reverse proxy on 127.0.0.1 that rule would reject
	// every request, so it is lifted when the proxy's hosts are listed in
	// SERVAGENT_ALLOWED_HOSTS (checked by hostCheck below) or, as in the
	// reference, when servagent listens on loopback with authentication on.
	disableRebinding := len(cfg.AllowedHosts) > 0 || (cfg.LoopbackOnly() && !cfg.InsecureNoAuth)

	sse := mcp.NewSSEHandler(s.newSSEServer, &mcp.SSEOptions{DisableLocalhostProtection: disableRebinding})

	mux.HandleFunc("GET /healthz", s.health)
	mux.Handle("/mcp", s.mcpEndpoint(disableRebinding))
	mux.Handle("/sse", s.legacyOnly(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			httpjson.Write(w, http.StatusMethodNotAllowed, map[string]string{"error": "GET /sse opens the event stream; POST messages to the announced /messages/ URL"})
			return
		}
		// The SDK announces an endpoint relative to the GET's URL; present
		// the GET as /messages/ so clients are told /messages/?sessionid=….
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/messages/"
		r2.URL.RawPath = ""
		sse.ServeHTTP(w, r2)
	}))
	mux.Handle("/messages/", s.legacyOnly(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			httpjson.Write(w, http.StatusMethodNotAllowed, map[string]string{"error": "POST JSON-RPC messages here"})
			return
		}
		// Accept the reference's session_id spelling as well.
		q := r.URL.Query()
		if q.Get("sessionid") == "" && q.Get("session_id") != "" {
			q.Set("sessionid", q.Get("session_id"))
			r.URL.RawQuery = q.Encode()
		}
		sse.ServeHTTP(w, r)
	}))
	mux.Handle("/upload", upload.NewHandler(upload.Handler{Paths: s.env.Paths, MaxSize: cfg.UploadMaxSize, SpoolDir: cfg.StateDir, Logger: s.log}))
	mux.Handle("/download", upload.NewDownload(upload.Download{Paths: s.env.Paths, Logger: s.log}))
	if s.opts.OAuth != nil {
		s.opts.OAuth.Register(mux)
	}

	var h http.Handler = mux
	authOpts := auth.Options{
		APIKey:          s.apiKey,
		BasicUser:       cfg.OAuthClientID,
		BasicPassword:   cfg.OAuthClientSecret,
		InsecureNoAuth:  cfg.InsecureNoAuth,
		Penalty:         s.limits.FailurePenalty,
		OnAuthenticated: func(r *http.Request, _ auth.Method) { connAuthenticated(r.Context()) },
		OnAuthFailure: func(r *http.Request, reason string) {
			s.log.Warn("authentication failed", "path", logged(r.URL.Path), "remote", r.RemoteAddr,
				"client", ratelimit.ClientAddr(r), "reason", reason)
		},
	}
	if s.opts.OAuth != nil {
		authOpts.OAuth = s.opts.OAuth.VerifyAccessToken
		authOpts.ResourceMetadata = s.opts.OAuth.ResourceMetadataURL()
		authOpts.Scopes = s.opts.OAuth.Scopes()
	}
	h = auth.Middleware(authOpts, h)
	h = s.hostCheck(h)
	if cfg.InsecureNoAuth {
		h = browserGuard(h)
	}
	if s.opts.ACME != nil && s.certs == nil {
		// Plain HTTP on the main port can still answer HTTP-01.
		h = s.opts.ACME.HTTPHandler(h)
	}
	h = clientAddress(s.proxies, h)
	h = bodyDeadline(s.limits, h)
	return recoverer(s.log, h)
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok", "version": buildinfo.Version})
}

func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic in handler", "path", logged(r.URL.Path), "panic", fmt.Sprint(v))
				httpjson.Write(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// TLSConfig returns the TLS configuration when HTTPS is on, else nil. With
// ACME, a TLS-ALPN-01 validation handshake gets the challenge certificate.
func (s *Server) TLSConfig() *tls.Config {
	if s.certs == nil {
		return nil
	}
	get := s.certs.GetCertificate
	if s.opts.ACME != nil {
		get = acme.TLSConfigHooks(s.opts.ACME, get)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: get, NextProtos: []string{"h2", "http/1.1"}}
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully:
// stop accepting, let tool calls finish for up to ShutdownTimeout, kill the
// process groups still running, close every connection.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 15 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnContext:       connContext,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: s.limits.MaxConcurrentStreams},
	}
	ln = newConnLimiter(ln, s.limits.UnauthConnsPerAddr, s.proxies, s.log)
	if tc := s.TLSConfig(); tc != nil {
		hs.TLSConfig = tc
		if s.opts.ACME != nil {
			acme.ConfigureServer(hs)
		}
		go func() { errc <- hs.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- hs.Serve(ln) }()
	}
	var serveErr error
	select {
	case serveErr = <-errc:
		// The listener failed: what was started still ends as below.
		s.log.Error("serving stopped; shutting down", "err", serveErr, "grace", s.opts.ShutdownTimeout.String())
	case <-ctx.Done():
		s.log.Info("shutting down", "grace", s.opts.ShutdownTimeout.String())
	}
	shutdownDone := make(chan struct{})
	go func() {
		sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
		defer cancel()
		hs.Shutdown(sctx)
		close(shutdownDone)
	}()
	dctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	n := s.calls.wait(dctx)
	cancel()
	if n > 0 {
		s.log.Warn("tool calls still running after the grace period; killing their processes", "calls", n)
		s.endSessionCalls()
	}
	if n := s.env.Jobs.Shutdown(); n > 0 {
		s.log.Info("killed running jobs", "jobs", n)
	}
	s.opts.Runner.Shutdown()
	hs.Close() // ends hanging event streams
	<-shutdownDone
	if serveErr == nil {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			serveErr = err
		}
	}
	s.stopBackground()
	return serveErr
}

// Listen opens the configured address, for Serve.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Addr())
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", s.cfg.Addr(), err)
	}
	return ln, nil
}

// ListenAndServe listens on the configured address and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}
