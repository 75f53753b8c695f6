// Package cli holds servagent's cobra commands. Each command lives in its own
// file with an Options struct, a newXCmd that only parses flags into it, and
// a runX(ctx, opts) that does the work and that tests call directly. The
// dependencies the commands share are built once, in a Factory; errors.go
// maps every error to the process exit status in one place.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// IO bundles the streams a command talks to, so tests can capture them.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// StdIO returns the process's standard streams.
func StdIO() IO { return IO{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr} }

// NewRootCmd builds the servagent command tree on the dependencies in f.
func NewRootCmd(f *Factory) *cobra.Command {
	ios := f.IO
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
		newServeCmd(f, nil),
		newVersionCmd(f),
		newCompletionCmd(f),
		newInstallCmd(f, nil),
		newSetupCmd(f, nil),
		newUninstallCmd(f, nil),
		newUpdateCmd(f, nil),
		newTLSCmd(f),
		newOAuthCmd(f),
		newSkillsCmd(f),
	)
	usageErrors(root)
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
	root := NewRootCmd(NewFactory(ios))
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	err = commandLineError(cmd, err)
	if err != nil {
		fmt.Fprintln(ios.ErrOut, "servagent: "+err.Error())
	}
	return int(codeFor(err))
}
