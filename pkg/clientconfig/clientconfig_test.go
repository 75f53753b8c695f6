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

func TestMCPURL(t *testing.T) {
	for _, c := range []struct {
		tls          bool
		host         string
		port         int
		domain, want string
	}{
		{true, "0.0.0.0", 443, "mcp.example.com", "https://mcp.example.com/mcp"},
		{true, "0.0.0.0", 8443, "mcp.example.com", "https://mcp.example.com:8443/mcp"},
		{false, "127.0.0.1", 8765, "", "http://127.0.0.1:8765/mcp"},
		{false, "127.0.0.1", 80, "", "http://127.0.0.1/mcp"},
		{false, "::1", 8765, "", "http://[::1]:8765/mcp"},
		{false, "[::1]", 80, "", "http://[::1]/mcp"},
		{true, "10.0.0.5", 443, "", "https://10.0.0.5/mcp"},
	} {
		if got := MCPURL(c.tls, c.host, c.port, c.domain); got != c.want {
			t.Errorf("MCPURL(%v, %q, %d, %q) = %s, want %s", c.tls, c.host, c.port, c.domain, got, c.want)
		}
	}
	// An unspecified host is replaced by something a client can dial.
	for _, h := range []string{"0.0.0.0", "::", ""} {
		got := MCPURL(false, h, 8765, "")
		if strings.Contains(got, "0.0.0.0") || strings.Contains(got, "[::]") || !strings.HasSuffix(got, ":8765/mcp") {
			t.Errorf("MCPURL for host %q = %s", h, got)
		}
	}
}
