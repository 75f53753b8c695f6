package tools

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func noopHandler[In any](*Env, context.Context, *mcp.CallToolRequest, In) (*mcp.CallToolResult, struct{}, error) {
	return textResult("ok"), struct{}{}, nil
}

// TestRegisterAllOrNone: when one tool's input schema cannot be inferred,
// Register says which tool and adds none, not the ones before it.
func TestRegisterAllOrNone(t *testing.T) {
	good := define(Tool{Name: "good_tool", Title: "Good", Description: "d"}, noopHandler[struct {
		Path string `json:"path"`
	}])
	bad := define(Tool{Name: "bad_tool", Title: "Bad", Description: "d"}, noopHandler[struct {
		C chan int `json:"c"`
	}])
	env := newTestEnv(t)

	s := mcp.NewServer(&mcp.Implementation{Name: "test-server", Version: "0"}, nil)
	err := register(s, env, []Tool{good, bad})
	if err == nil || !strings.Contains(err.Error(), "bad_tool") {
		t.Fatalf("register with an uninferable schema: %v, want an error naming bad_tool", err)
	}
	if got := listedNames(t, s); len(got) != 0 {
		t.Errorf("after the failed register the server lists %v, want no tool", got)
	}

	// The same server takes the good tool alone, so the check above could
	// have seen it.
	if err := register(s, env, []Tool{good}); err != nil {
		t.Fatal(err)
	}
	if got := listedNames(t, s); !slices.Equal(got, []string{"good_tool"}) {
		t.Errorf("server lists %v, want [good_tool]", got)
	}
}

// listedNames lists s's tools through a real client session.
func listedNames(t *testing.T, s *mcp.Server) []string {
	t.Helper()
	ctx := context.Background()
	ct, st := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "0"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	var names []string
	if cs.InitializeResult().Capabilities.Tools == nil {
		return nil
	}
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	return names
}
