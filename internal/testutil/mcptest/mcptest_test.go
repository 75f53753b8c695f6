package mcptest

import (
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestTextJoinsTextContentOnly(t *testing.T) {
	res := &mcp.CallToolResult{Content: []mcp.Content{
		&mcp.TextContent{Text: "first "},
		&mcp.ImageContent{Data: []byte("not text"), MIMEType: "image/png"},
		&mcp.TextContent{Text: "second"},
	}}
	if got := Text(res); got != "first second" {
		t.Errorf("Text = %q, want %q", got, "first second")
	}
	if got := Text(&mcp.CallToolResult{}); got != "" {
		t.Errorf("Text of an empty result = %q", got)
	}
}
