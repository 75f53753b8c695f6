package cli

import "github.com/modelcontextprotocol/go-sdk/mcp"

func callParams(command string) *mcp.CallToolParams {
	return &mcp.CallToolParams{Name: "execute_command", Arguments: map[string]any{"command": command}}
}
