package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/internal/testutil/mcptest"
)

// newTestEnv returns an Env whose working directory is a fresh temp dir.
func newTestEnv(t testing.TB) *Env {
	t.Helper()
	return NewEnv(Env{
		WorkDir:        t.TempDir(),
		CommandTimeout: 30 * time.Second,
		MaxOutputSize:  1_000_000,
	})
}

// connectTools registers the named tools on a fresh server and connects a
// real client session to it over in-memory transports, so argument
// validation, schemas and error wrapping are the SDK's own. Both ends close
// when the test ends.
func connectTools(t testing.TB, env *Env, names []string, copts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	s := mcp.NewServer(&mcp.Implementation{Name: "test-server", Version: "0"}, nil)
	if err := Register(s, env, names); err != nil {
		t.Fatalf("register %v: %v", names, err)
	}
	ct, st := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatalf("server connect: %v", err)
	}
	t.Cleanup(func() { ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "0"}, copts).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatalf("client connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// callTool calls the named tool through a fresh client session.
func callTool(t testing.TB, env *Env, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	res, err := connectTools(t, env, []string{name}, nil).CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: protocol error: %v", name, err)
	}
	return res
}

// resultText is the text content of a result.
var resultText = mcptest.Text

// structured decodes a result's structuredContent into T, failing the test
// when the call was a tool error.
func structured[T any](t testing.TB, res *mcp.CallToolResult) T {
	t.Helper()
	var out T
	if res.IsError {
		t.Fatalf("unexpected tool error: %s", resultText(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatalf("marshal structured content: %v", err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("decode structured content: %v (%s)", err, b)
	}
	return out
}

// toolError asserts the call failed as a tool error whose message contains
// every given fragment, and returns the message.
func toolError(t testing.TB, res *mcp.CallToolResult, fragments ...string) string {
	t.Helper()
	msg := resultText(res)
	if !res.IsError {
		t.Fatalf("expected a tool error, got success: %s", msg)
	}
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("error message %q does not contain %q", msg, f)
		}
	}
	return msg
}

// listTools lists the named tools through a fresh client session.
func listTools(t testing.TB, names []string) []*mcp.Tool {
	t.Helper()
	res, err := connectTools(t, newTestEnv(t), names, nil).ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Tools
}
