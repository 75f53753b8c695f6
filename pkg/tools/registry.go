package tools

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/jobs"
	"github.com/servagent/servagent/pkg/runner"
	"github.com/servagent/servagent/pkg/systemd"
	"github.com/servagent/servagent/pkg/userpath"
)

// All is every tool servagent has, in canonical order: the reference
// README's table.
var All = []Tool{
	executeCommandTool,
	readJobOutputTool, writeJobInputTool, killJobTool, listJobsTool,
	readFileTool, writeFileTool, editFileTool,
	readFileBinaryTool, writeFileBinaryTool,
	uploadFileTool,
	listDirectoryTool,
	movePathTool, copyPathTool, deletePathTool,
	listProcessesTool, killProcessTool,
	tailFileTool,
	systemInfoTool, networkInfoTool,
	serviceActionTool,
	getEnvironmentTool,
}

// Env is everything tool handlers depend on. It is shared by every session;
// tests build the one they need, so they need no package state and can run
// in parallel.
type Env struct {
	WorkDir string
	// Paths turns a client's path into an absolute one; the server hands
	// the same resolver to /upload and /download. Without a WorkDir of its
	// own it takes relative paths from WorkDir.
	Paths          userpath.Resolver
	CommandTimeout time.Duration
	MaxOutputSize  int64
	UploadMaxSize  int64
	// Runner starts every process, so shutdown can end them.
	Runner *runner.Runner
	// Jobs holds the commands that outlive their call (execute_command's
	// background, pty and yielded commands).
	Jobs *jobs.Manager
	// CommandYield: execute_command hands a command still running after
	// this long over as a job (0: waits until it ends).
	CommandYield time.Duration
	// Systemd is how service_action and tail_file reach systemd.
	Systemd systemd.Systemd
	// SettleDelay: service_action re-reads a started unit's state this
	// long after it first reads active (0: a second).
	SettleDelay time.Duration
	// CountBudget bounds the bytes read_file scans only to count lines;
	// past it the total is an estimate (0: defaultCountBudget).
	CountBudget int64
	Logger      *slog.Logger
	// SecretEnv names environment variables that must never reach the model
	// or a child process (the API key, the OAuth secrets).
	SecretEnv []string
	// SecretValues are the values of servagent's own secrets (the key, the
	// OAuth secrets). They are gone from its environment by the time tools
	// run, so get_environment learns them here to hide a copy of one kept
	// under another name.
	SecretValues []string
	// ProgressInterval is how often long calls report progress (default 5s).
	ProgressInterval time.Duration
}

// NewEnv returns an Env with the host's defaults for what is not given:
// a new Runner, the real systemd, a discarding logger.
func NewEnv(e Env) *Env {
	if e.Paths.WorkDir == "" {
		e.Paths.WorkDir = e.WorkDir
	}
	if e.Runner == nil {
		e.Runner = runner.New()
	}
	if e.Systemd.Systemctl == "" {
		e.Systemd = systemd.Host()
	}
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	if e.Jobs == nil {
		e.Jobs = jobs.NewManager(jobs.Options{Runner: e.Runner, MaxOutput: e.MaxOutputSize, Logger: e.Logger})
	}
	return &e
}

// resolve turns a client path into a clean absolute path: the rules every
// entry point shares (pkg/userpath).
func (e *Env) resolve(p string) (string, error) {
	return e.Paths.Resolve(p)
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
