package clientconfig

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSnippets(t *testing.T) {
	s := Render("https://m.example.com/mcp", "K")
	for _, want := range []string{
		`claude mcp add --transport http servagent https://m.example.com/mcp --header "Authorization: Bearer K"`,
		`"Authorization": "Bearer K"`, `"url": "https://m.example.com/mcp"`, "API key:       K",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
	// The JSON block parses as a client config.
	js := s[strings.Index(s, "{"):]
	var cfg struct {
		MCPServers map[string]struct{ Type, URL string } `json:"mcpServers"`
	}
	if err := json.Unmarshal([]byte(js), &cfg); err != nil || cfg.MCPServers["servagent"].Type != "streamable-http" {
		t.Fatalf("JSON block: %v %+v", err, cfg)
	}
}
