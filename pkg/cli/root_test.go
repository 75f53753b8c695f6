package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/servagent/servagent/pkg/config"
)

// TestNoHiddenFlags: every flag an operator can pass is listed in --help
// (and so in the man pages generated from the same tree).
func TestNoHiddenFlags(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden {
				t.Errorf("%s --%s is hidden", c.CommandPath(), f.Name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCmd(NewFactory(IO{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})))
	for _, args := range [][]string{{"install", "--help"}, {"tls", "setup", "--help"}, {"update", "--help"}} {
		var out bytes.Buffer
		root := NewRootCmd(NewFactory(IO{Out: &out, ErrOut: &out}))
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		want := "--acme-http-port"
		if args[0] == "update" {
			want = "--health-timeout"
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("%v does not show %s:\n%s", args, want, out.String())
		}
	}
}

// TestExitCodes: one mapping from an error to the process status, which
// sees through wrapping.
func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want ExitCode
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitFailure},
		{failf("install failed: %w", errors.New("disk full")), ExitFailure},
		{usagef("bad name"), ExitUsage},
		{fmt.Errorf("loading: %w", &config.Error{Var: "SERVAGENT_PORT", Value: "x", Expected: "a port"}), ExitUsage},
		{fmt.Errorf("loading: %w", &config.EnvFileError{Path: ".env", Problem: "writable by other users"}), ExitUsage},
		{fmt.Errorf("outer: %w", usagef("inner")), ExitUsage},
	} {
		if got := codeFor(c.err); got != c.want {
			t.Errorf("codeFor(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	cause := errors.New("disk full")
	if err := failf("install failed: %w", cause); !errors.Is(err, cause) {
		t.Errorf("the cause is not wrapped: %v", err)
	}
}
