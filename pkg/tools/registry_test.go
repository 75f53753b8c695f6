package tools

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/servagent/servagent/pkg/userpath"
)

// TestEveryToolHasTitleAndAllHints lists the registered tools through a real
// client and checks the top-level title (protocol 2025-06-18) and all four
// annotation hints.
func TestEveryToolHasTitleAndAllHints(t *testing.T) {
	listed := listTools(t, Names())
	if len(listed) != len(All) {
		t.Errorf("%d tools registered, canonical list has %d", len(listed), len(All))
	}
	for _, tool := range listed {
		a := tool.Annotations
		if tool.Title == "" || a == nil || a.Title != tool.Title || a.DestructiveHint == nil || a.OpenWorldHint == nil {
			t.Errorf("%s: title %q annotations %+v", tool.Name, tool.Title, a)
		}
		if a != nil && a.ReadOnlyHint && *a.DestructiveHint {
			t.Errorf("%s is read-only and destructive", tool.Name)
		}
		if tool.Description == "" {
			t.Errorf("%s has no description", tool.Name)
		}
	}
}

// TestDeclarations checks what a declaration promises: unique names, a
// handler, and audited arguments that exist in the tool's input schema (a
// typo would silently log nothing).
func TestDeclarations(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range All {
		if d.Name == "" || seen[d.Name] {
			t.Errorf("tool name %q empty or declared twice", d.Name)
		}
		seen[d.Name] = true
		if d.add == nil {
			t.Errorf("%s has no handler", d.Name)
		}
	}
	for _, listed := range listTools(t, Names()) {
		d, ok := Lookup(listed.Name)
		if !ok {
			t.Fatalf("listed tool %s has no declaration", listed.Name)
		}
		schema, _ := listed.InputSchema.(map[string]any)
		props, _ := schema["properties"].(map[string]any)
		for _, a := range append(slices.Clone(d.Audit), d.Program) {
			if a == "" {
				continue
			}
			if _, ok := props[a]; !ok {
				t.Errorf("%s audits argument %q, which its input schema does not have", d.Name, a)
			}
		}
	}
}

// TestRegisterUnknown: an unknown name is an error, not a silent skip.
func TestRegisterUnknown(t *testing.T) {
	if err := Register(nil, newTestEnv(t), []string{"execute_command", "no_such_tool"}); err == nil {
		t.Fatal("Register accepted an unknown tool name")
	}
}

// The path resolver is a dependency like the others: an Env given one with
// its own home expands "~" there, for writes and reads alike.
func TestEnvPathsResolveTheToolsPaths(t *testing.T) {
	work, home := t.TempDir(), t.TempDir()
	env := NewEnv(Env{WorkDir: work, MaxOutputSize: 1 << 20,
		Paths: userpath.Resolver{WorkDir: work, Home: func() (string, error) { return home, nil }}})
	if res := callTool(t, env, "write_file", map[string]any{"path": "~/notes.txt", "content": "hi\n"}); res.IsError {
		t.Fatal(resultText(res))
	}
	if b, err := os.ReadFile(filepath.Join(home, "notes.txt")); err != nil || string(b) != "hi\n" {
		t.Fatalf("write_file ~/notes.txt: %q %v", b, err)
	}
	if res := callTool(t, env, "read_file", map[string]any{"path": " ~/notes.txt\n"}); res.IsError || !strings.Contains(resultText(res), "hi") {
		t.Fatalf("read_file: %s", resultText(res))
	}
	if res := callTool(t, env, "write_file", map[string]any{"path": "rel.txt", "content": "x"}); res.IsError {
		t.Fatal(resultText(res))
	}
	if _, err := os.Stat(filepath.Join(work, "rel.txt")); err != nil {
		t.Fatalf("relative path not under the work dir: %v", err)
	}
}
