// Package server wires servagent's HTTP surface: routes, the middleware
// order (recover → host check → auth → routes), the MCP transports, TLS and
// graceful shutdown.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/acme"
	"github.com/servagent/servagent/pkg/auth"
	"github.com/servagent/servagent/pkg/buildinfo"
	"github.com/servagent/servagent/pkg/config"
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
	Config       *config.Config
	Logger       *slog.Logger
	Instructions func() string // called for each new MCP session
	OAuth        OAuthProvider // nil when OAuth is off
	ACME         ChallengeSolver
	// ShutdownTimeout bounds how long in-flight tool calls may run after a
	// shutdown signal before their processes are killed.
	ShutdownTimeout time.Duration
	Runner          *runner.Runner
}

// Server is a configured servagent HTTP server.
type Server struct {
	opts     Options
	cfg      *config.Config
	log      *slog.Logger
	env      *tools.Env
	cache    *mcp.SchemaCache
	handler  http.Handler
	inflight atomic.Int64 // tool calls running now
	certs    *certReloader

	mu       sync.Mutex
	current  *builtServer                         // the MCP server for the current instructions
	sessions map[*mcp.ServerSession]*sessionCalls // in-flight calls per live session
}

// builtServer is an MCP server and the instructions it was built with.
type builtServer struct {
	instructions string
	srv          *mcp.Server
}

// sessionCalls cancels a session's in-flight tool calls when it ends.
type sessionCalls struct {
	ctx    context.Context
	cancel context.CancelFunc
	id     string // Mcp-Session-Id ("" for SSE sessions)
	user   string // TokenInfo.UserID of the credential that opened it
}

// New builds the server. It does not listen yet.
func New(opts Options) (*Server, error) {
	if opts.Config == nil {
		return nil, errors.New("server: no config")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Instructions == nil {
		opts.Instructions = func() string { return "" }
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if opts.Runner == nil {
		opts.Runner = runner.New()
	}
	cfg := opts.Config
	if cfg.APIKey == "" && !cfg.InsecureNoAuth && opts.OAuth == nil {
		return nil, errors.New("server: refusing to serve without a credential (no API key, no OAuth)")
	}
	s := &Server{
		opts:     opts,
		cfg:      cfg,
		log:      opts.Logger,
		cache:    mcp.NewSchemaCache(),
		sessions: map[*mcp.ServerSession]*sessionCalls{},
		env: &tools.Env{
			WorkDir:        cfg.WorkDir,
			CommandTimeout: cfg.CommandTimeout,
			MaxOutputSize:  cfg.MaxOutputSize,
			UploadMaxSize:  cfg.UploadMaxSize,
			Runner:         opts.Runner,
			Logger:         opts.Logger,
			SecretEnv:      SecretEnvNames(),
		},
	}
	if cfg.TLSEnabled() {
		r, err := newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, err
		}
		s.certs = r
	}
	s.handler = s.routes()
	// Build the first MCP server (schema reflection for every tool) while
	// the process finishes starting, instead of in the first initialize.
	go s.newMCPServer(&http.Request{Header: http.Header{}})
	return s, nil
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

	streamable := mcp.NewStreamableHTTPHandler(s.newMCPServer, &mcp.StreamableHTTPOptions{
		SessionTimeout:             cfg.SessionTimeout,
		DisableLocalhostProtection: disableRebinding,
	})
	sse := mcp.NewSSEHandler(s.newSSEServer, &mcp.SSEOptions{DisableLocalhostProtection: disableRebinding})

	mux.HandleFunc("GET /healthz", s.health)
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			s.endSession(r)
		}
		streamable.ServeHTTP(w, r)
	})
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "GET /sse opens the event stream; POST messages to the announced /messages/ URL"})
			return
		}
		// The SDK announces an endpoint relative to the GET's URL; present
		// the GET as /messages/ so clients are told /messages/?sessionid=….
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/messages/"
		r2.URL.RawPath = ""
		sse.ServeHTTP(w, r2)
	})
	mux.HandleFunc("/messages/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "POST JSON-RPC messages here"})
			return
		}
		// Accept the reference's session_id spelling as well.
		q := r.URL.Query()
		if q.Get("sessionid") == "" && q.Get("session_id") != "" {
			q.Set("sessionid", q.Get("session_id"))
			r.URL.RawQuery = q.Encode()
		}
		sse.ServeHTTP(w, r)
	})
	mux.Handle("/upload", &upload.Handler{WorkDir: cfg.WorkDir, MaxSize: cfg.UploadMaxSize, Logger: s.log})
	if s.opts.OAuth != nil {
		s.opts.OAuth.Register(mux)
	}

	var h http.Handler = mux
	authOpts := auth.Options{
		APIKey:         cfg.APIKey,
		BasicUser:      cfg.OAuthClientID,
		BasicPassword:  cfg.OAuthClientSecret,
		InsecureNoAuth: cfg.InsecureNoAuth,
		OnAuthFailure: func(r *http.Request, reason string) {
			s.log.Warn("authentication failed", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", reason)
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
	if s.opts.ACME != nil && !cfg.TLSEnabled() {
		// Plain HTTP on the main port can still answer HTTP-01.
		h = s.opts.ACME.HTTPHandler(h)
	}
	return recoverer(s.log, h)
}

// newMCPServer returns the MCP server for a request. The SDK asks for one
// on every HTTP request, not only for new sessions, so servers are shared:
// requests of an existing session get the current one, and a new session
// gets it too unless the instructions changed (an edited SKILL.md), in which
// case a fresh server is built for it and for the sessions after it.
func (s *Server) newMCPServer(r *http.Request) *mcp.Server {
	if r.Header.Get("Mcp-Session-Id") != "" {
		s.mu.Lock()
		cur := s.current
		s.mu.Unlock()
		if cur != nil {
			return cur.srv
		}
	}
	instr := s.opts.Instructions()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil && s.current.instructions == instr {
		return s.current.srv
	}
	srv := s.buildMCPServer(instr, nil)
	if srv != nil {
		s.current = &builtServer{instructions: instr, srv: srv}
		// Building a server (schema reflection for every tool) leaves a few
		// MiB of garbage; hand it back to the OS rather than keep it resident
		// on an otherwise idle server. This runs once per instructions change.
		go func() {
			time.Sleep(100 * time.Millisecond)
			debug.FreeOSMemory()
		}()
	}
	return srv
}

// newSSEServer builds a server for one legacy SSE stream. Its calls are
// bound to the stream's request context: when the client drops the stream,
// its commands are killed (the SDK would otherwise wait for them).
func (s *Server) newSSEServer(r *http.Request) *mcp.Server {
	return s.buildMCPServer(s.opts.Instructions(), r.Context())
}

// buildMCPServer makes an MCP server with the selected tools. Tool calls
// also end when streamCtx (if any) ends.
func (s *Server) buildMCPServer(instr string, streamCtx context.Context) *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "servagent", Title: "servagent", Version: buildinfo.Version}, &mcp.ServerOptions{
		Instructions: instr,
		SchemaCache:  s.cache,
		Capabilities: &mcp.ServerCapabilities{Logging: &mcp.LoggingCapabilities{}},
	})
	if err := tools.Register(srv, s.env, s.cfg.Tools); err != nil {
		s.log.Error("registering tools", "error", err)
		return nil
	}
	srv.AddReceivingMiddleware(s.audit(streamCtx))
	return srv
}

// sessionContext returns a context that ends when the MCP session ends, so
// a command started in a session never outlives it. The SDK only closes a
// session once its in-flight calls return, so the end is signalled from
// outside: endSession on DELETE /mcp (SSE streams use newSSEServer).
func (s *Server) sessionContext(ss *mcp.ServerSession, user string) context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.sessions[ss]; ok {
		return sc.ctx
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.sessions[ss] = &sessionCalls{ctx: ctx, cancel: cancel, id: ss.ID(), user: user}
	go func() {
		ss.Wait()
		cancel()
		s.mu.Lock()
		delete(s.sessions, ss)
		s.mu.Unlock()
	}()
	return ctx
}

// endSession cancels the calls of the session a DELETE /mcp is about to
// close, when the DELETE comes from the credential that opened it.
func (s *Server) endSession(r *http.Request) {
	id := r.Header.Get("Mcp-Session-Id")
	if id == "" {
		return
	}
	user := ""
	if ti := sdkauth.TokenInfoFromContext(r.Context()); ti != nil {
		user = ti.UserID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sc := range s.sessions {
		if sc.id == id && sc.user == user {
			sc.cancel()
		}
	}
}

// audit writes one log line per tool call and counts calls in flight for
// graceful shutdown.
func (s *Server) audit(streamCtx context.Context) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return s.auditCall(next, streamCtx)
	}
}

func (s *Server) auditCall(next mcp.MethodHandler, streamCtx context.Context) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method != "tools/call" {
			return next(ctx, method, req)
		}
		s.inflight.Add(1)
		defer s.inflight.Add(-1)
		if streamCtx != nil {
			var stop func() bool
			ctx, stop = mergeCancel(ctx, streamCtx)
			defer stop()
		} else if ss, ok := req.GetSession().(*mcp.ServerSession); ok && ss != nil && ss.ID() != "" {
			user := ""
			if ex := req.GetExtra(); ex != nil && ex.TokenInfo != nil {
				user = ex.TokenInfo.UserID
			}
			var stop func() bool
			ctx, stop = mergeCancel(ctx, s.sessionContext(ss, user))
			defer stop()
		}
		start := time.Now()
		res, err := next(ctx, method, req)
		name, args := "", ""
		if p, ok := req.GetParams().(*mcp.CallToolParamsRaw); ok && p != nil {
			name, args = p.Name, summarizeArgs(p.Arguments)
		}
		outcome := "ok"
		if err != nil {
			outcome = "protocol_error"
		} else if r, ok := res.(*mcp.CallToolResult); ok && r.IsError {
			outcome = "tool_error"
		}
		authMethod := "api_key" // the SSE transport carries no token info; only the API key reaches it
		if s.cfg.InsecureNoAuth {
			authMethod = "none"
		}
		if ex := req.GetExtra(); ex != nil && ex.TokenInfo != nil {
			if m, ok := ex.TokenInfo.Extra["auth"].(string); ok {
				authMethod = m
			}
		}
		sid := ""
		if ss := req.GetSession(); ss != nil {
			sid = ss.ID()
		}
		s.log.Info("tool call", "tool", name, "session", sid, "auth", authMethod,
			"duration_ms", time.Since(start).Milliseconds(), "outcome", outcome, "args", args)
		return res, err
	}
}

// mergeCancel returns ctx, also cancelled when other is done.
func mergeCancel(ctx, other context.Context) (context.Context, func() bool) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(other, cancel)
	return ctx, func() bool { cancel(); return stop() }
}

// summarizeArgs describes arguments without printing content that may hold
// secrets: paths and names are shown, free text only by size; a command
// shows its first word.
func summarizeArgs(raw json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return fmt.Sprintf("<%d bytes, not an object>", len(raw))
	}
	shown := map[string]bool{"path": true, "source_path": true, "destination_path": true, "source": true, "destination": true,
		"work_dir": true, "service": true, "action": true, "pid": true, "signal": true, "journalctl_unit": true,
		"offset": true, "limit": true, "lines": true, "follow": true, "recursive": true, "timeout": true, "sort_by": true}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		v := m[k]
		switch {
		case k == "command":
			str, _ := v.(string)
			prog := ""
			for _, w := range strings.Fields(str) {
				// Skip leading NAME=value assignments: they often carry secrets.
				if name, _, ok := strings.Cut(w, "="); ok && name != "" && !strings.ContainsAny(name, "/$'\"") {
					continue
				}
				prog = w
				if len(prog) > 40 {
					prog = prog[:40]
				}
				break
			}
			parts = append(parts, fmt.Sprintf("command=%q…(%d chars)", prog, len(str)))
		case shown[k]:
			b, _ := json.Marshal(v)
			if len(b) > 200 {
				b = append(b[:200], "…"...)
			}
			parts = append(parts, k+"="+string(b))
		default:
			b, _ := json.Marshal(v)
			parts = append(parts, fmt.Sprintf("%s=<%d bytes>", k, len(b)))
		}
	}
	return strings.Join(parts, " ")
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": buildinfo.Version})
}

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

func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic in handler", "path", r.URL.Path, "panic", fmt.Sprint(v))
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// TLSConfig returns the TLS configuration when HTTPS is on, else nil. With
// ACME, a TLS-ALPN-01 validation handshake gets the challenge certificate.
func (s *Server) TLSConfig() *tls.Config {
	if s.certs == nil {
		return nil
	}
	get := s.certs.GetCertificate
	if s.opts.ACME != nil {
		base := get
		get = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c, err := s.opts.ACME.ChallengeCertificate(hello); c != nil || err != nil {
				return c, err
			}
			return base(hello)
		}
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
	}
	if tc := s.TLSConfig(); tc != nil {
		hs.TLSConfig = tc
		if s.opts.ACME != nil {
			acme.ConfigureServer(hs)
		}
		go func() { errc <- hs.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- hs.Serve(ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", s.opts.ShutdownTimeout.String())
	shutdownDone := make(chan struct{})
	go func() {
		sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
		defer cancel()
		hs.Shutdown(sctx)
		close(shutdownDone)
	}()
	// Calls may still arrive on open connections while draining, so this
	// polls a counter rather than waiting on a WaitGroup.
	deadline := time.Now().Add(s.opts.ShutdownTimeout)
	for s.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := s.inflight.Load(); n > 0 {
		s.log.Warn("tool calls still running after the grace period; killing their processes", "calls", n)
	}
	s.opts.Runner.Shutdown()
	hs.Close() // ends hanging event streams
	<-shutdownDone
	return nil
}

// ListenAndServe listens on the configured address and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr())
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Addr(), err)
	}
	return s.Serve(ctx, ln)
}
