package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/httpjson"
)

// MCP 2026-07-28 beside the legacy sessions on one /mcp.
//
// The go-sdk serves the per-request protocol only from a stateless
// StreamableHTTPHandler, and its stateful handler answers such requests
// with -32022 (unsupported version). So /mcp holds one handler of each
// kind, sharing the same MCP servers, and sends each request to one of
// them by its MCP-Protocol-Version header: the 2026-07-28 transport
// requires that header on every request, while a legacy client sends
// either nothing (initialize) or the version it negotiated. The SDK then
// does the rest per spec: server/discover, the per-request _meta, the
// Mcp-Method / Mcp-Name check (-32001 with 400 on a mismatch) and the
// cancellation of a call whose response stream the client closed.

// protocol20260728 is the first per-request protocol version; later ones
// compare greater as strings.
const protocol20260728 = "2026-07-28"

// perRequest reports whether r uses the per-request protocol.
func perRequest(r *http.Request) bool {
	return r.Header.Get("MCP-Protocol-Version") >= protocol20260728
}

// mcpEndpoint is the /mcp handler for the protocol eras switched on in
// SERVAGENT_PROTOCOLS.
func (s *Server) mcpEndpoint(disableRebinding bool) http.Handler {
	var sessions, stateless http.Handler
	if s.cfg.Serves(config.ProtocolLegacy) {
		sessions = mcp.NewStreamableHTTPHandler(s.newMCPServer, &mcp.StreamableHTTPOptions{
			SessionTimeout:             s.cfg.SessionTimeout,
			DisableLocalhostProtection: disableRebinding,
		})
	}
	if s.cfg.Serves(config.Protocol20260728) {
		stateless = mcp.NewStreamableHTTPHandler(s.newMCPServer, &mcp.StreamableHTTPOptions{
			Stateless:                    true,
			PropagateRequestCancellation: true,
			DisableLocalhostProtection:   disableRebinding,
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Debug("mcp request", "protocol", logged(r.Header.Get("MCP-Protocol-Version")),
			"method", logged(r.Header.Get("Mcp-Method")), "http", r.Method)
		if h := repeatedHeader(r); h != "" {
			headerRepeated(w, r, h)
			return
		}
		switch {
		case stateless != nil && perRequest(r):
			stateless.ServeHTTP(w, r)
		case sessions != nil:
			// With 2026-07-28 off, the session handler answers its
			// requests with -32022 listing the legacy versions.
			if r.Method == http.MethodDelete {
				s.endSession(r)
			}
			sessions.ServeHTTP(w, r)
		default:
			legacyOff(w, r)
		}
	})
}

// routingHeaders are the headers the SDK reads one value of (the first)
// to route and check a request against its body.
var routingHeaders = []string{"Mcp-Method", "Mcp-Name", "MCP-Protocol-Version"}

// repeatedHeader names a routing header r carries more than once, else "".
// A second value would pass unchecked beside the first: a proxy or a
// policy that reads the last one would see another method or tool than
// the one that runs.
func repeatedHeader(r *http.Request) string {
	for _, h := range routingHeaders {
		if len(r.Header.Values(h)) > 1 {
			return h
		}
	}
	return ""
}

// headerRepeated answers 400 with the JSON-RPC error the spec defines for
// headers that do not match the request (-32020).
func headerRepeated(w http.ResponseWriter, r *http.Request, h string) {
	httpjson.Write(w, http.StatusBadRequest, map[string]any{"jsonrpc": "2.0", "id": requestID(w, r), "error": map[string]any{
		"code": mcp.CodeHeaderMismatch, "message": h + " header sent more than once: send exactly one value"}})
}

// requestID is the JSON-RPC id of r's body, or null (read at most 1 MiB).
func requestID(w http.ResponseWriter, r *http.Request) json.RawMessage {
	var msg struct {
		ID json.RawMessage `json:"id"`
	}
	json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&msg)
	if len(msg.ID) == 0 {
		return json.RawMessage("null")
	}
	return msg.ID
}

// legacyOnly serves h only when the legacy era is on (/sse, /messages/).
func (s *Server) legacyOnly(h http.HandlerFunc) http.Handler {
	if s.cfg.Serves(config.ProtocolLegacy) {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusNotFound, map[string]string{"error": "the legacy SSE transport is off (SERVAGENT_PROTOCOLS=2026-07-28); use /mcp"})
	})
}

// legacyOff answers a legacy request when SERVAGENT_PROTOCOLS is only
// 2026-07-28: the JSON-RPC error the spec defines for an unsupported
// version, naming the one that is served, so a client can switch.
func legacyOff(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		httpjson.Write(w, http.StatusMethodNotAllowed, map[string]string{"error": "only MCP 2026-07-28 is served here (SERVAGENT_PROTOCOLS): POST with MCP-Protocol-Version: 2026-07-28"})
		return
	}
	id := requestID(w, r)
	data, _ := json.Marshal(mcp.UnsupportedProtocolVersionData{Supported: []string{protocol20260728}, Requested: r.Header.Get("MCP-Protocol-Version")})
	httpjson.Write(w, http.StatusBadRequest, map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{
		"code": mcp.CodeUnsupportedProtocolVersion, "message": "unsupported protocol version: this server serves only MCP 2026-07-28", "data": json.RawMessage(data)}})
}

// unadvertised answers -32601 (HTTP 404 in 2026-07-28) to the methods of
// capabilities servagent does not declare. The SDK would answer an empty
// prompts or resources list, which a 2026-07-28 client reads as "handles
// prompts" though server/discover declares none. Legacy sessions keep
// their answers unchanged.
func unadvertised(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if v, ok := req.(interface{ ProtocolVersion() string }); ok && v.ProtocolVersion() >= protocol20260728 {
			if strings.HasPrefix(method, "prompts/") || strings.HasPrefix(method, "resources/") || method == "completion/complete" {
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: "servagent has no " + strings.SplitN(method, "/", 2)[0] + ": " + method + " is not served"}
			}
		}
		return next(ctx, method, req)
	}
}

// Caching hints of list and discover results: everything here is behind a
// credential, so only the requesting client may cache it ("private"). The
// tool list is fixed for the life of the process; the instructions in
// server/discover follow the skills directory, so they are kept briefly.
const (
	toolsTTLMs    = 5 * 60 * 1000
	discoverTTLMs = 60 * 1000
)

func setCacheable(_ context.Context, req mcp.Request, c *mcp.Cacheable) {
	c.CacheScope = "private"
	switch req.(type) {
	case *mcp.ListToolsRequest:
		c.TTLMs = toolsTTLMs
	default:
		c.TTLMs = discoverTTLMs
	}
}
