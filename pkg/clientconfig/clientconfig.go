// Package clientconfig renders the ready-to-paste snippets that connect MCP
// clients to a servagent endpoint. serve (generated key) and install print it.
package clientconfig

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Render returns the endpoint, the key and the client snippets.
func Render(mcpURL, apiKey string) string {
	return fmt.Sprintf("MCP endpoint:  %s\nAPI key:       %s\n\n%s", mcpURL, apiKey, Snippets(mcpURL, apiKey))
}

// Snippets returns the Claude Code command and the JSON block for Claude
// Desktop / LM Studio for the given /mcp URL and API key.
func Snippets(mcpURL, apiKey string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Claude Code:\n  claude mcp add --transport http servagent %s --header \"Authorization: Bearer %s\"\n\n", mcpURL, apiKey)
	// A struct, not a map, so the fields print in the order people expect.
	type entry struct {
		Type    string            `json:"type"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	}
	block := map[string]map[string]entry{"mcpServers": {"servagent": {
		Type: "streamable-http", URL: mcpURL, Headers: map[string]string{"Authorization": "Bearer " + apiKey},
	}}}
	js, _ := json.MarshalIndent(block, "  ", "  ")
	fmt.Fprintf(&b, "Claude Desktop / LM Studio (mcpServers entry):\n  %s\n", js)
	return b.String()
}
