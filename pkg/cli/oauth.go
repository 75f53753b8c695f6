package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/secret"
)

// GenCredentialsOptions are the inputs of `servagent oauth gen-credentials`.
type GenCredentialsOptions struct {
	IO      IO
	Write   bool   // update the env file in place
	EnvFile string // "" = the first of DefaultEnvFiles that exists, else the last
	// DefaultEnvFiles overrides config.DefaultEnvFiles (tests).
	DefaultEnvFiles []string
}

func newOAuthCmd(f *Factory) *cobra.Command {
	ios := f.IO
	cmd := &cobra.Command{
		Use:   "oauth",
		Short: "Manage the OAuth authorization server",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	opts := &GenCredentialsOptions{IO: ios}
	gen := &cobra.Command{
		Use:   "gen-credentials",
		Short: "Generate the operator OAuth client id and secret",
		Long: `Generate a new operator OAuth client: SERVAGENT_OAUTH_CLIENT_ID and
SERVAGENT_OAUTH_CLIENT_SECRET. They serve twice: as the static OAuth client that
Claude.ai or ChatGPT use directly (paste them in the connector settings), and as
the HTTP Basic credentials that guard dynamic registration on /mcp/register.

Without --write the values are only printed. With --write they replace (or are
added to) the .env file in place, every other line and the file mode kept; the
default file is ./.env if it exists, else /opt/servagent/.env. Restart
servagent afterwards. New credentials end the sessions of the old static
client.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGenCredentials(cmd.Context(), opts)
		},
	}
	gen.Flags().BoolVar(&opts.Write, "write", false, "write the credentials into the env file")
	gen.Flags().StringVar(&opts.EnvFile, "env-file", "", "env file to update with --write (default ./.env if it exists, else /opt/servagent/.env)")
	cmd.AddCommand(gen)
	return cmd
}

// defaultEnvFile picks the first candidate that exists, else the last one.
func defaultEnvFile(candidates []string) string {
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	if len(candidates) == 0 {
		return ""
	}
	return candidates[len(candidates)-1]
}

func runGenCredentials(ctx context.Context, opts *GenCredentialsOptions) error {
	id := "servagent-" + secret.NewHex(8)
	sec := secret.NewKey()
	out := opts.IO.Out

	if !opts.Write {
		fmt.Fprintf(out, `# Operator OAuth credentials. Add these lines to the servagent .env file
# (or run again with --write), set SERVAGENT_OAUTH_ISSUER_URL, then restart.
# In Claude.ai or ChatGPT, use the same values as the connector's OAuth
# client id and client secret. Keep the secret private.
SERVAGENT_OAUTH_CLIENT_ID=%s
SERVAGENT_OAUTH_CLIENT_SECRET=%s
`, id, sec)
		return nil
	}

	path := opts.EnvFile
	if path == "" {
		candidates := opts.DefaultEnvFiles
		if candidates == nil {
			candidates = config.DefaultEnvFiles
		}
		path = defaultEnvFile(candidates)
		if path == "" {
			return usagef("no env file: pass --env-file")
		}
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return usagef("%s is not a regular file", path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return failf("env file %s: %w", path, err)
	}
	existed := false
	if env, err := config.ReadEnvFile(path); err == nil {
		_, existed = env[config.VarOAuthClientID]
	}
	if err := config.UpdateEnvFile(path, map[string]string{
		config.VarOAuthClientID:     id,
		config.VarOAuthClientSecret: sec,
	}); err != nil {
		return failf("updating %s: %w", path, err)
	}
	verb := "Added"
	if existed {
		verb = "Replaced"
	}
	fmt.Fprintf(out, `%s the operator OAuth credentials in %s.
Restart servagent to apply them (systemctl restart servagent).
In Claude.ai or ChatGPT, use these as the connector's OAuth client id and secret:

  Client ID:     %s
  Client secret: %s
`, verb, path, id, sec)
	if existed {
		fmt.Fprintln(out, "\nConnectors configured with the previous credentials must be updated; their sessions end at the restart.")
	}
	return nil
}
