// Package clientconfig renders the ready-to-paste snippets that connect MCP
// clients to a servagent endpoint. serve (generated key) and install print it.
package clientconfig

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Render returns the Claude Code command and the JSON block for Claude
// Desktop / LM Studio for the given /mcp URL and API key.
func Render(mcpURL, apiKey string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "MCP endpoint:  %s\n", mcpURL)
	fmt.Fprintf(&b, "API key:       %s\n\n", apiKey)
	b.WriteString("Claude Code:\n")
	fmt.Fprintf(&b, "  claude mcp add --transport http servagent %s --header \"Authorization: Bearer %s\"\n\n", mcpURL, apiKey)
	b.WriteString("Claude Desktop / LM Studio (mcpServers entry):\n")
	type entry struct {
		Type    string            `json:"type"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	}
	block := map[string]map[string]entry{"mcpServers": {"servagent": {
		Type: "streamable-http", URL: mcpURL, Headers: map[string]string{"Authorization": "Bearer " + apiKey},
	}}}
	js, _ := json.MarshalIndent(block, "  ", "  ")
	b.WriteString("  " + string(js) + "\n")
	return b.String()
}
