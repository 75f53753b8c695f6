package tools

import (
	"context"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestEveryToolHasTitleAndAllHints lists the registered tools through a real
// client and checks the top-level title (protocol 2025-06-18) and all four
// annotation hints.
func TestEveryToolHasTitleAndAllHints(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "t"}, nil)
	if err := Register(s, newTestEnv(t), Names()); err != nil {
		t.Fatal(err)
	}
	ct, st := mcp.NewInMemoryTransports()
	if _, err := s.Connect(context.Background(), st, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c"}, nil).Connect(context.Background(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tools) != len(order) {
		t.Errorf("%d tools registered, canonical order has %d", len(res.Tools), len(order))
	}
	for _, tool := range res.Tools {
		a := tool.Annotations
		if tool.Title == "" || a == nil || a.Title != tool.Title || a.DestructiveHint == nil || a.OpenWorldHint == nil {
			t.Errorf("%s: title %q annotations %+v", tool.Name, tool.Title, a)
		}
		if a != nil && a.ReadOnlyHint && *a.DestructiveHint {
			t.Errorf("%s is read-only and destructive", tool.Name)
		}
	}
}
