package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/config"
)

// ExitCode is the process exit status of a command.
type ExitCode int

// The exit statuses servagent uses; codeFor is the one place that maps an
// error to one of them.
const (
	ExitOK      ExitCode = 0
	ExitFailure ExitCode = 1 // the command ran and failed
	ExitUsage   ExitCode = 2 // bad configuration or usage: nothing was done
)

// ExitError carries a process exit status with its cause.
type ExitError struct {
	Code ExitCode
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// exitf returns an ExitError with a formatted message; wrap causes with %w.
func exitf(code ExitCode, format string, args ...any) error {
	return &ExitError{Code: code, Err: fmt.Errorf(format, args...)}
}

// failf is a failure of a command that was given valid input.
func failf(format string, args ...any) error { return exitf(ExitFailure, format, args...) }

// usagef is bad input: a wrong argument or setting.
func usagef(format string, args ...any) error { return exitf(ExitUsage, format, args...) }

// codeFor maps an error returned by a command to the process exit status.
func codeFor(err error) ExitCode {
	var ee *ExitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case config.IsConfigError(err):
		return ExitUsage
	default:
		return ExitFailure
	}
}

// usageErrors makes cobra's refusals of a command line usage errors: a bad
// flag (SetFlagErrorFunc, inherited by every subcommand) and wrong arguments
// (each Args validator wrapped). Call it on the complete tree.
func usageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ExitError{Code: ExitUsage, Err: err} })
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if args := c.Args; args != nil {
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return &ExitError{Code: ExitUsage, Err: err}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// commandLineError is err as Execute returned it for cmd. A command that is
// not runnable (the root, tls, skills) does nothing itself, so an error
// reported for it is cobra refusing the command line before any validator
// of ours ran: an unknown command.
func commandLineError(cmd *cobra.Command, err error) error {
	var ee *ExitError
	if err != nil && cmd != nil && !cmd.Runnable() && !errors.As(err, &ee) {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	return err
}
