package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Input schemas reach the SDK as JSON (define); the SDK must still check
// every call against them: a wrong type, an unknown argument and a missing
// required one are refused before the handler runs.
func TestArgumentsAreCheckedAgainstTheSchema(t *testing.T) {
	env := newTestEnv(t)
	for name, args := range map[string]map[string]any{
		"wrong type":       {"command": "true", "timeout": "soon"},
		"unknown argument": {"command": "true", "comand": "true"},
		"missing required": {"timeout": 5},
	} {
		res := callTool(t, env, "execute_command", args)
		if !res.IsError || !strings.Contains(resultText(res), "validating") {
			t.Errorf("%s: not refused by the schema: %s", name, resultText(res))
		}
	}
}

// Every tool lists a closed object schema, with properties unless it takes
// no arguments.
func TestEveryToolListsItsInputSchema(t *testing.T) {
	cs := connectTools(t, newTestEnv(t), Names(), nil)
	res, err := cs.ListTools(context.Background(), &mcp.ListToolsParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tools) != len(All) {
		t.Fatalf("%d tools listed, want %d", len(res.Tools), len(All))
	}
	for _, tool := range res.Tools {
		b, _ := json.Marshal(tool.InputSchema)
		var s struct {
			Type                 string         `json:"type"`
			Properties           map[string]any `json:"properties"`
			AdditionalProperties any            `json:"additionalProperties"`
		}
		if err := json.Unmarshal(b, &s); err != nil || s.Type != "object" || s.AdditionalProperties != false {
			t.Errorf("%s: input schema %s", tool.Name, b)
		}
		noArgs := map[string]bool{"list_jobs": true, "system_info": true, "network_info": true}
		if !noArgs[tool.Name] && len(s.Properties) == 0 {
			t.Errorf("%s: no properties in %s", tool.Name, b)
		}
	}
}
