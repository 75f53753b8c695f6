// Package cli holds servagent's cobra commands. Each command lives in its own
// file with an Options struct, a newXCmd that only parses flags, and a runX
// that does the work and that tests call directly.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/config"
)

// IO bundles the streams a command talks to, so tests can capture them.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// StdIO returns the process's standard streams.
func StdIO() IO { return IO{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr} }

// ExitError carries a process exit status with its message.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// exitf returns an ExitError with a formatted message.
func exitf(code int, format string, args ...any) error {
	return &ExitError{Code: code, Err: fmt.Errorf(format, args...)}
}

// NewRootCmd builds the servagent command tree.
func NewRootCmd(ios IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "servagent",
		Short: "Operate this Linux server from an AI client over MCP",
		Long: `servagent turns this machine into a Model Context Protocol server, so a remote
AI client (Claude Code, Claude Desktop, Claude.ai, ChatGPT, LM Studio) can run
commands, edit files, manage services and read logs here.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.AddCommand(
		newServeCmd(ios, nil),
		newVersionCmd(ios),
		newCompletionCmd(ios),
		newInstallCmd(ios, nil),
		newSetupCmd(ios, nil),
		newUninstallCmd(ios, nil),
		newUpdateCmd(ios, nil),
		newTLSCmd(ios),
		newOAuthCmd(ios),
		newSkillsCmd(ios),
	)
	return root
}

// Main runs the CLI and returns the process exit status.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, StdIO())
}

// Run executes one command line with the given streams and returns the exit
// status: 0 on success, 2 for bad configuration or usage, 1 otherwise.
func Run(ctx context.Context, args []string, ios IO) int {
	root := NewRootCmd(ios)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(ios.ErrOut, "servagent: "+err.Error())
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if config.IsConfigError(err) {
		return 2
	}
	return 1
}
