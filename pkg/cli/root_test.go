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

// TestUsageExitCodes: cobra's refusals of a command line (a bad flag, an
// unknown command, wrong arguments) exit 2 like every other usage error, with
// the message cobra gives; a command that ran and failed still exits 1.
func TestUsageExitCodes(t *testing.T) {
	skills := t.TempDir()
	for _, c := range []struct {
		args []string
		want ExitCode
		msg  string
	}{
		{[]string{"serve", "--bogus"}, ExitUsage, "servagent: unknown flag: --bogus\n"},
		{[]string{"--bogus"}, ExitUsage, "servagent: unknown flag: --bogus\n"},
		{[]string{"update", "--health-timeout", "soon"}, ExitUsage, `servagent: invalid argument "soon" for "--health-timeout" flag: time: invalid duration "soon"` + "\n"},
		{[]string{"nosuch"}, ExitUsage, `servagent: unknown command "nosuch" for "servagent"` + "\n"},
		{[]string{"serv"}, ExitUsage, `servagent: unknown command "serv" for "servagent"` + "\n\nDid you mean this?\n\tserve\n\n"},
		{[]string{"version", "extra"}, ExitUsage, `servagent: unknown command "extra" for "servagent version"` + "\n"},
		{[]string{"oauth", "extra"}, ExitUsage, `servagent: unknown command "extra" for "servagent oauth"` + "\n"},
		{[]string{"completion"}, ExitUsage, "servagent: accepts 1 arg(s), received 0\n"},
		{[]string{"completion", "tcsh"}, ExitUsage, `servagent: invalid argument "tcsh" for "servagent completion"` + "\n"},
		{[]string{"install", "a.example", "b.example"}, ExitUsage, "servagent: accepts at most 1 arg(s), received 2\n"},
		{[]string{"skills", "show", "--dir", skills}, ExitUsage, "servagent: accepts 1 arg(s), received 0\n"},
		{[]string{"skills", "show", "nosuch", "--dir", skills}, ExitFailure, fmt.Sprintf("servagent: no skill %q in %s\n", "nosuch", skills)},
		{[]string{"version"}, ExitOK, ""},
		{[]string{"tls"}, ExitOK, ""}, // a group without a subcommand prints its help
		{[]string{"skills"}, ExitOK, ""},
		{[]string{"tls", "bogus"}, ExitUsage, `servagent: unknown command "bogus" for "servagent tls"` + "\n"},
		{[]string{"skills", "bogus"}, ExitUsage, `servagent: unknown command "bogus" for "servagent skills"` + "\n"},
	} {
		var out, errOut bytes.Buffer
		got := ExitCode(Run(t.Context(), c.args, IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}))
		if got != c.want || errOut.String() != c.msg {
			t.Errorf("%v: exit %d, stderr %q; want exit %d, stderr %q", c.args, got, errOut.String(), c.want, c.msg)
		}
	}
}
