package cli

import (
	"errors"
	"fmt"

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
