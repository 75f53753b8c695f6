// Package tools holds the MCP tools servagent exposes: a registry that knows
// every tool by name, and one file per family (exec.go runs commands,
// files.go reads and writes files, ...). Each family registers its tools in
// an init function; Register adds the selected ones to an MCP server.
package tools

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/runner"
)

// Env is what tool handlers may use. It is shared by every session.
type Env struct {
	WorkDir        string
	CommandTimeout time.Duration
	MaxOutputSize  int64
	UploadMaxSize  int64
	Runner         *runner.Runner
	Logger         *slog.Logger
	// SecretEnv names environment variables that must never reach the model
	// or a child process (the API key, the OAuth secrets).
	SecretEnv []string
	// ProgressInterval is how often long calls report progress (default 5s).
	ProgressInterval time.Duration
}

// order is the canonical tool order: the reference README's table.
var order = []string{
	"execute_command",
	"read_file", "write_file", "edit_file",
	"read_file_binary", "write_file_binary",
	"upload_file",
	"list_directory",
	"move_path", "copy_path", "delete_path",
	"list_processes", "kill_process",
	"tail_file",
	"system_info", "network_info",
	"service_action",
	"get_environment",
}

var registry = map[string]func(*mcp.Server, *Env){}

// register is called from the init function of each tool family.
func register(name string, add func(*mcp.Server, *Env)) {
	if !slices.Contains(order, name) {
		panic("tools: " + name + " is missing from the canonical order")
	}
	if _, dup := registry[name]; dup {
		panic("tools: " + name + " registered twice")
	}
	registry[name] = add
}

// Names lists the available tools in canonical order.
func Names() []string {
	var out []string
	for _, n := range order {
		if _, ok := registry[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// Register adds the named tools to s. Unknown names are an error; config
// validation normally catches them first.
func Register(s *mcp.Server, env *Env, names []string) error {
	for _, n := range names {
		add, ok := registry[n]
		if !ok {
			return fmt.Errorf("unknown tool %q", n)
		}
		add(s, env)
	}
	return nil
}

var defaultRunner = sync.OnceValue(runner.New)

// run executes c with the Env's runner (so shutdown can end it), or with a
// package default when the Env was built without one (tests).
func (e *Env) run(ctx context.Context, c runner.Cmd) (runner.Result, error) {
	r := e.Runner
	if r == nil {
		r = defaultRunner()
	}
	return r.Run(ctx, c)
}

// annotate builds ToolAnnotations; every tool states all four hints.
func annotate(title string, readOnly, destructive, idempotent, openWorld bool) *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{
		Title:           title,
		ReadOnlyHint:    readOnly,
		DestructiveHint: &destructive,
		IdempotentHint:  idempotent,
		OpenWorldHint:   &openWorld,
	}
}

// resolve turns a user path into a clean absolute path, relative paths being
// taken from the working directory. "~" expands to the server user's home.
func (e *Env) resolve(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return "", fmt.Errorf("path is empty: give an absolute path or one relative to %s", e.WorkDir)
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("path contains a NUL byte")
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot expand ~: %v", err)
		}
		p = filepath.Join(home, strings.TrimPrefix(p, "~"))
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(e.WorkDir, p)
	}
	return filepath.Clean(p), nil
}

// childEnv is the environment given to commands: the server's own, minus
// its secrets, plus the caller's additions.
func (e *Env) childEnv(extra map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(e.SecretEnv, k) {
			continue
		}
		if _, overridden := extra[k]; overridden {
			continue
		}
		out = append(out, kv)
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, k+"="+extra[k])
	}
	return out
}

// textResult is a successful result whose text is what the model reads; the
// typed output goes to structuredContent.
func textResult(format string, args ...any) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf(format, args...)}}}
}
