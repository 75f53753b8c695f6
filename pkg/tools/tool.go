// Package tools holds the MCP tools servagent exposes. Each tool is one
// declared value (a Tool: name, title, description, hints, the arguments
// the audit line may show, its handler), written next to its handler in a
// file named after it; All lists them in canonical order. Everything else —
// registration, the audit line, configuration checks — reads those values.
package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Tool declares one MCP tool. Its identity is stated here once.
type Tool struct {
	Name        string
	Title       string
	Description string
	Hints       Hints
	// Audit names the arguments whose values the audit line may show
	// (paths, pids, unit names). Any other argument is logged by size only,
	// since free text can hold secrets.
	Audit []string
	// Program names the argument holding a shell command line; the audit
	// line shows only its program name.
	Program string
	// With names a tool this one comes with: enabled whenever that one is.
	With string

	add func(*mcp.Server, *mcp.Tool, *Env) error
	// schema is the input schema as JSON, inferred once per process.
	schema func() (json.RawMessage, error)
}

// Hints are the MCP tool annotations. Every tool states all four; the zero
// value is "not read-only, not destructive, not idempotent, closed world".
type Hints struct {
	ReadOnly    bool
	Destructive bool
	Idempotent  bool
	OpenWorld   bool
}

// handler is the shape of every tool handler: a method on *Env.
type handler[In, Out any] func(*Env, context.Context, *mcp.CallToolRequest, In) (*mcp.CallToolResult, Out, error)

// define binds a declaration to its typed handler.
//
// The input schema is inferred from In once per process, as the SDK would
// infer it, and handed to the SDK as JSON. The SDK re-encodes a tool's
// input schema on every MCP 2026-07-28 tools/call (to look for
// x-mcp-header properties): from JSON that is a copy, from a
// *jsonschema.Schema a reflective encode that cost about 70 µs per
// execute_command call. tools/list sends the same bytes either way.
func define[In, Out any](t Tool, h handler[In, Out]) Tool {
	schema := sync.OnceValues(inputSchema[In])
	t.schema = schema
	t.add = func(s *mcp.Server, mt *mcp.Tool, e *Env) error {
		raw, err := schema()
		if err != nil {
			return err
		}
		mt.InputSchema = raw
		mcp.AddTool(s, mt, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
			return h(e, ctx, req, in)
		})
		return nil
	}
	return t
}

// inputSchema is the JSON Schema of In as mcp.AddTool infers it.
func inputSchema[In any]() (json.RawMessage, error) {
	rt := reflect.TypeFor[In]()
	if rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	s, err := jsonschema.ForType(rt, &jsonschema.ForOptions{})
	if err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// mcpTool is the declaration as the protocol describes it.
func (t Tool) mcpTool() *mcp.Tool {
	destructive, openWorld := t.Hints.Destructive, t.Hints.OpenWorld
	return &mcp.Tool{
		Name:        t.Name,
		Title:       t.Title,
		Description: t.Description,
		Annotations: &mcp.ToolAnnotations{
			Title:           t.Title,
			ReadOnlyHint:    t.Hints.ReadOnly,
			DestructiveHint: &destructive,
			IdempotentHint:  t.Hints.Idempotent,
			OpenWorldHint:   &openWorld,
		},
	}
}

// Lookup returns the declaration of the named tool.
func Lookup(name string) (Tool, bool) {
	for _, t := range All {
		if t.Name == name {
			return t, true
		}
	}
	return Tool{}, false
}

// Names lists every tool in canonical order.
func Names() []string {
	out := make([]string, len(All))
	for i, t := range All {
		out[i] = t.Name
	}
	return out
}

// Register adds the named tools to s, in canonical order whatever the
// order of names. Unknown names are an error; config validation normally
// catches them first.
func Register(s *mcp.Server, env *Env, names []string) error {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		if _, ok := Lookup(n); !ok {
			return fmt.Errorf("unknown tool %q", n)
		}
		want[n] = true
	}
	var selected []Tool
	for _, t := range All {
		if want[t.Name] || t.With != "" && want[t.With] {
			selected = append(selected, t)
		}
	}
	return register(s, env, selected)
}

// register adds tools to s, all or none.
//
// Every input schema is inferred before the SDK sees the first tool. The
// inference drops a *jsonschema.Schema tree per tool once it is marshalled;
// done first, that garbage fills spans of its own, which the collection
// after the build frees whole. Interleaved with the SDK's work it shared
// spans with the schemas the server keeps, and the idle server held
// ~0.15 MiB more heap.
//
// One tool after the other, on the caller's goroutine: side by side (a
// goroutine per tool) the first build of a loaded 2-core box was no faster
// (median 9.1 ms against 7.5 ms) and the idle server was up to 0.2 MiB
// larger (more goroutine stacks, the garbage spread over more spans).
func register(s *mcp.Server, env *Env, tools []Tool) error {
	for _, t := range tools {
		if _, err := t.schema(); err != nil {
			return fmt.Errorf("tool %s: input schema: %w", t.Name, err)
		}
	}
	for _, t := range tools {
		if err := t.add(s, t.mcpTool(), env); err != nil {
			return fmt.Errorf("tool %s: %w", t.Name, err)
		}
	}
	return nil
}
