// Package clientconfig renders the ready-to-paste snippets that connect MCP
// clients to a servagent endpoint. serve (generated key) and install print it.
package clientconfig

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// MCPURL is the endpoint clients should use for a server listening on
// host:port: https://DOMAIN when a domain is set, else the listen host, with
// an unspecified one (0.0.0.0, ::) replaced by a guess at the address
// clients reach. The port is left out when it is the scheme's default.
func MCPURL(tls bool, host string, port int, domain string) string {
	scheme, defPort := "http", 80
	if tls {
		scheme, defPort = "https", 443
	}
	host = strings.Trim(host, "[]")
	switch {
	case domain != "":
		host = domain
	case host == "":
		host = ReachableHost()
	default:
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			host = ReachableHost()
		}
	}
	if port != defPort {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + "/mcp"
}

// ReachableHost guesses the address clients reach: the first global unicast
// IPv4 address, else the hostname, else loopback. The setup wizard shows it
// as the address clients would dial.
func ReachableHost() string {
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				return ipn.IP.String()
			}
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "127.0.0.1"
}

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
