package netname

import (
	"strings"
	"testing"
)

func TestDomain(t *testing.T) {
	for in, want := range map[string]string{
		"mcp.example.com": "mcp.example.com", " MCP.Example.COM. ": "mcp.example.com", "xn--bcher-kva.example": "xn--bcher-kva.example",
	} {
		if got, err := Domain(in); err != nil || got != want {
			t.Errorf("Domain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, why := range map[string]string{
		"": "required", "*.example.com": "wildcard", "192.0.2.1": "IP address", "localhost": "two labels",
		"example.com:443": "character ':'", "example.com/../x": "character '/'", "a..b": "empty", "-a.example.com": "'-'",
		"bücher.example": "punycode", strings.Repeat("a", 64) + ".com": "over-long", strings.Repeat("a.", 127) + "com": "253",
	} {
		if _, err := Domain(in); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("Domain(%q): %v, want an error about %q", in, err, why)
		}
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for h, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true, "[::1]": true,
		"0.0.0.0": false, "example.com": false, "10.0.0.1": false, "": false, "localhost.example.com": false,
		"::ffff:127.0.0.1": true, "[::ffff:127.0.0.1]": true, "[::2]": false, "[localhost]": false,
		// url.URL.Hostname keeps a stray bracket ("http://127.0.0.1]:80/"): not loopback.
		"127.0.0.1]": false, "::1]": false, "[::1": false, "[127.0.0.1]": false, "[[::1]]": false, "[]": false} {
		if got := IsLoopbackHost(h); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v", h, got)
		}
	}
}

func TestIssuerURL(t *testing.T) {
	for in, want := range map[string]string{"https://x.example/mcp/": "https://x.example/mcp", "http://127.0.0.1:8765/mcp": "http://127.0.0.1:8765/mcp",
		"http://localhost/a/mcp": "http://localhost/a/mcp"} {
		if got, err := IssuerURL(in); err != nil || got != want {
			t.Errorf("IssuerURL(%q) = %q, %v", in, got, err)
		}
	}
	for in, why := range map[string]string{"x.example/mcp": "absolute", "ftp://x.example/mcp": "absolute", "https://x.example/": "ends in /mcp",
		"http://x.example/mcp": "https", "https://x.example/mcp?a=1": "query", "https://x.example/mcp#f": "fragment",
		"https://u:p@x.example/mcp": "user information", "https://u@x.example/mcp": "user information",
		"http://127.0.0.1:99999999999/mcp": "port", "https://x.example:0/mcp": "port",
		"https://x.example/x/../mcp": "segment", "https://x.example/./mcp": "segment", "https://x.example/%6Dcp/mcp": "escaped"} {
		if _, err := IssuerURL(in); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("IssuerURL(%q): %v, want %q", in, err, why)
		}
	}
}
