package system

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ClientConfigs returns ready-to-paste client configurations for url and key.
func ClientConfigs(url, key string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Claude Code:\n  claude mcp add --transport http servagent %s --header \"Authorization: Bearer %s\"\n\n", url, key)
	// A struct, not a map, so the fields print in the order people expect.
	type server struct {
		Type    string            `json:"type"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	}
	cfg := map[string]any{"mcpServers": map[string]server{"servagent": {
		Type: "streamable-http", URL: url, Headers: map[string]string{"Authorization": "Bearer " + key}}}}
	js, _ := json.MarshalIndent(cfg, "  ", "  ")
	fmt.Fprintf(&b, "Claude Desktop / LM Studio (mcpServers JSON):\n  %s\n", js)
	return b.String()
}
