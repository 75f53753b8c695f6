// Package mcptest holds what tests of MCP tool results share, whichever
// side of the transport they stand on (pkg/tools calls handlers in memory,
// pkg/server over HTTP).
package mcptest

import (
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Text concatenates the text content of a result: what the model reads.
func Text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
