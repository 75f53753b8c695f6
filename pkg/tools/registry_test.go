package tools

import (
	"testing"
)

// TestEveryToolHasTitleAndAllHints lists the registered tools through a real
// client and checks the top-level title (protocol 2025-06-18) and all four
// annotation hints.
func TestEveryToolHasTitleAndAllHints(t *testing.T) {
	listed := listTools(t, Names())
	if len(listed) != len(order) {
		t.Errorf("%d tools registered, canonical order has %d", len(listed), len(order))
	}
	for _, tool := range listed {
		a := tool.Annotations
		if tool.Title == "" || a == nil || a.Title != tool.Title || a.DestructiveHint == nil || a.OpenWorldHint == nil {
			t.Errorf("%s: title %q annotations %+v", tool.Name, tool.Title, a)
		}
		if a != nil && a.ReadOnlyHint && *a.DestructiveHint {
			t.Errorf("%s is read-only and destructive", tool.Name)
		}
	}
}
