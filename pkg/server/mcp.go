package server

import (
	"context"
	"net/http"
	"runtime/debug"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/buildinfo"
	"github.com/servagent/servagent/pkg/tools"
)

// This file holds the MCP side: one server per set of instructions, the
// session-bound cancellation of tool calls, and the audit line per call.

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

// newMCPServer returns the MCP server for a request. The SDK asks for one
// on every HTTP request, not only for new sessions, so servers are shared:
// requests that do not read the instructions get the current one, and a new
// session (or a 2026-07-28 server/discover) gets it too unless the
// instructions changed (an edited SKILL.md), in which case a fresh server is
// built for it and for the requests after it.
func (s *Server) newMCPServer(r *http.Request) *mcp.Server {
	if !readsInstructions(r) {
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
		s.keepBuilt(srv)
		// Building a server (schema reflection for every tool) leaves a few
		// MiB of garbage; hand it back to the OS rather than keep it resident
		// on an otherwise idle server. This runs once per instructions change.
		s.background(debug.FreeOSMemory)
	}
	return srv
}

// keepBuilt records srv for shutdown, forgetting the earlier servers whose
// sessions have all ended (s.mu is held).
func (s *Server) keepBuilt(srv *mcp.Server) {
	kept := s.built[:0]
	for _, b := range s.built {
		for range b.Sessions() {
			kept = append(kept, b)
			break
		}
	}
	s.built = append(kept, srv)
}

// readsInstructions reports whether r may be answered with the server's
// instructions: a legacy request without a session (initialize) or a
// 2026-07-28 server/discover. Only those re-read the skills directory; a
// 2026-07-28 tools/call, which arrives without a session every time, does not.
func readsInstructions(r *http.Request) bool {
	if perRequest(r) {
		return r.Header.Get("Mcp-Method") == "server/discover"
	}
	return r.Header.Get("Mcp-Session-Id") == ""
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
		SetCacheable: setCacheable, // stateless.go
	})
	if err := tools.Register(srv, s.env, s.cfg.Tools); err != nil {
		s.log.Error("registering tools", "err", err)
		return nil
	}
	srv.AddReceivingMiddleware(s.audit(streamCtx), unadvertised) // unadvertised: stateless.go
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
	watched := s.background(func() {
		ss.Wait()
		cancel()
		s.mu.Lock()
		delete(s.sessions, ss)
		s.mu.Unlock()
	})
	if !watched { // shutting down: the call gets an ended context
		cancel()
		return ctx
	}
	s.sessions[ss] = &sessionCalls{ctx: ctx, cancel: cancel, id: ss.ID(), user: user}
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
		s.calls.start()
		defer s.calls.done()
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
			name, args = p.Name, tools.AuditArgs(p.Name, p.Arguments)
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
