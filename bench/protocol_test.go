package bench

import (
	"testing"

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
