package bench

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/bench/floorsrv"
	"github.com/servagent/servagent/pkg/server/servertest"
)

// BenchmarkProtocolEcho: execute_command `echo hi` over MCP 2026-07-28
// (one POST per call, no session) vs the same call in a legacy session, on
// the same servagent in the same run. Reported as sa-* (2026-07-28) and
// floor-* (legacy session), so ratio-p50 is new ÷ legacy.
func BenchmarkProtocolEcho(b *testing.B) {
	saT, _ := startServagent(b)
	args := map[string]any{"command": "echo hi"}
	perRequest := caller(dialAs(b, saT, servertest.PerRequest), "execute_command", args, "hi")
	legacy := caller(dialAs(b, saT, servertest.Streamable), "execute_command", args, "hi")
	pairBench(b, perRequest, legacy)
}

// BenchmarkProtocolEchoSDK is the same pair on a bare go-sdk server (the
// floor's exec tool behind a stateless handler for 2026-07-28 and a
// stateful one for the session), to tell servagent's share of the ratio
// from the SDK's (informational).
func BenchmarkProtocolEchoSDK(b *testing.B) {
	srv := floorsrv.NewMCPServer()
	mux := http.NewServeMux()
	stateless := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{Stateless: true, PropagateRequestCancellation: true})
	stateful := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("MCP-Protocol-Version") >= "2026-07-28" {
			stateless.ServeHTTP(w, r)
			return
		}
		stateful.ServeHTTP(w, r)
	})
	ts := httptest.NewServer(mux)
	b.Cleanup(ts.Close)
	t := target{"sdk", ts.URL, ""}
	args := map[string]any{"command": "echo hi"}
	perRequest := caller(dialAs(b, t, servertest.PerRequest), "exec", args, "hi")
	legacy := caller(dialAs(b, t, servertest.Streamable), "exec", args, "hi")
	pairBench(b, perRequest, legacy)
}

// BenchmarkProtocolEchoProcess is BenchmarkProtocolEcho against the
// release binary in a process of its own, as a server runs (the client's
// garbage then does not set off the server's collections). Informational,
// beside the in-process pair above.
func BenchmarkProtocolEchoProcess(b *testing.B) {
	gated(b)
	p := command(b, "servagent")
	p.start(b)
	defer p.stop()
	p.waitHealthy(b)
	args := map[string]any{"command": "echo hi"}
	perRequest := caller(dialAs(b, p.target(), servertest.PerRequest), "execute_command", args, "hi")
	legacy := caller(dialAs(b, p.target(), servertest.Streamable), "execute_command", args, "hi")
	pairBench(b, perRequest, legacy)
}
