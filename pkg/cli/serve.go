package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/buildinfo"
	"github.com/servagent/servagent/pkg/clientconfig"
	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/instructions"
	"github.com/servagent/servagent/pkg/secret"
	"github.com/servagent/servagent/pkg/server"
	"github.com/servagent/servagent/pkg/tools"
)

// ServeOptions are the inputs of `servagent serve`.
type ServeOptions struct {
	IO             IO
	Flags          map[string]string // SERVAGENT_* name -> value, for flags set on the command line
	EnvFile        string
	InsecureNoAuth bool
	// Listener, when set, is used instead of listening on the configured
	// address (tests pass a loopback listener on port 0).
	Listener net.Listener
	// Ready, when set, is called once the server accepts connections.
	Ready func(addr string, cfg *config.Config)
	// LookupEnv and Environ default to the process environment.
	LookupEnv       func(string) (string, bool)
	Environ         []string
	DefaultEnvFiles []string
}

func newServeCmd(ios IO, runF func(*ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{IO: ios}
	values := map[string]*string{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the MCP server",
		Long: `Run the MCP server: Streamable HTTP on /mcp, legacy SSE on /sse, uploads on
/upload, downloads on /download, liveness on /healthz.

Settings come from, highest first: these flags, SERVAGENT_* environment
variables, a .env file (--env-file; default ./.env, else /opt/servagent/.env),
built-in defaults. Without SERVAGENT_API_KEY (and without OAuth) a random key
is generated for this run and printed once on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Flags = map[string]string{}
			for _, v := range config.Vars {
				if v.Flag != "" && cmd.Flags().Changed(v.Flag) {
					opts.Flags[v.Name] = *values[v.Name]
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return runServe(cmd.Context(), opts)
		},
	}
	for _, v := range config.Vars {
		if v.Flag == "" {
			continue
		}
		p := new(string)
		values[v.Name] = p
		usage := v.Usage + " (" + v.Name + ")"
		cmd.Flags().StringVar(p, v.Flag, v.Default, usage)
	}
	cmd.Flags().StringVar(&opts.EnvFile, "env-file", "", "read settings from this .env file")
	cmd.Flags().BoolVar(&opts.InsecureNoAuth, "insecure-no-auth", false, "serve without any authentication (only on a loopback address; for local experiments)")
	return cmd
}

func runServe(ctx context.Context, opts *ServeOptions) error {
	cfg, err := config.Load(config.LoadOptions{
		Flags:           opts.Flags,
		EnvFile:         opts.EnvFile,
		LookupEnv:       opts.LookupEnv,
		Environ:         opts.Environ,
		DefaultEnvFiles: opts.DefaultEnvFiles,
		ValidTools:      tools.Names(),
		InsecureNoAuth:  opts.InsecureNoAuth,
	})
	if err != nil {
		return err
	}
	logger := newLogger(opts.IO, cfg.LogLevel)
	for _, name := range cfg.UnknownVariables {
		logger.Warn("unknown setting ignored", "name", name)
	}
	if err := checkAuthSetup(cfg, opts.Listener); err != nil {
		return err
	}
	if cfg.InsecureNoAuth {
		logger.Warn("serving WITHOUT authentication (--insecure-no-auth); anyone who can reach this loopback port controls this machine")
	}
	if cfg.APIKey == "" && !cfg.InsecureNoAuth && !cfg.OAuthEnabled() {
		cfg.APIKey = secret.NewKey()
		cfg.GeneratedAPIKey = true
	}

	host := instructions.Probe(ctx, cfg.WorkDir)
	ib := &instructions.Builder{Host: host, SkillsDir: cfg.SkillsDir, Logger: logger}
	sopts := server.Options{Config: cfg, Logger: logger, Instructions: ib.Build}

	extras, err := startExtras(ctx, cfg, logger, &sopts)
	if err != nil {
		return err
	}
	defer extras.close()

	srv, err := server.New(sopts)
	if err != nil {
		return err
	}
	ln := opts.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", cfg.Addr())
		if err != nil {
			return exitf(1, "listening on %s: %v", cfg.Addr(), err)
		}
	}
	addr := ln.Addr().String()
	if opts.Listener == nil {
		addr = cfg.Addr() // keep 0.0.0.0 as configured rather than the dual-stack [::]
	}
	scheme := "http"
	if cfg.TLSEnabled() {
		scheme = "https"
	}
	if cfg.GeneratedAPIKey {
		fmt.Fprintf(opts.IO.ErrOut, "\nNo SERVAGENT_API_KEY is set: generated one for this run only (it changes at every start).\n"+
			"Set SERVAGENT_API_KEY in the environment or a .env file to keep one.\n\n%s\n",
			clientconfig.Render(publicURL(scheme, addr, cfg)+"/mcp", cfg.APIKey))
	}
	logger.Info("servagent listening", "version", buildinfo.Version, "url", scheme+"://"+addr+"/mcp",
		"tools", strings.Join(cfg.Tools, ","), "oauth", cfg.OAuthEnabled(), "env_file", cfg.EnvFile)
	if opts.Ready != nil {
		opts.Ready(addr, cfg)
	}
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}

// checkAuthSetup refuses the combinations that would serve without a
// credential or with a meaningless one.
func checkAuthSetup(cfg *config.Config, ln net.Listener) error {
	if !cfg.InsecureNoAuth {
		if cfg.OAuthEnabled() && cfg.OAuthApproval == "operator" && cfg.OAuthApprovalPassword == "" && cfg.APIKey == "" {
			return &config.Error{Var: "SERVAGENT_OAUTH_APPROVAL_PASSWORD", Value: "",
				Expected: "a secret for the approval page (or set SERVAGENT_API_KEY, or SERVAGENT_OAUTH_APPROVAL=auto)"}
		}
		return nil
	}
	host := cfg.Host
	if ln != nil {
		host, _, _ = net.SplitHostPort(ln.Addr().String())
	}
	if !config.IsLoopbackHost(host) {
		return &ExitError{Code: 2, Err: fmt.Errorf("--insecure-no-auth is only allowed on a loopback address; SERVAGENT_HOST is %q (use --host 127.0.0.1)", cfg.Host)}
	}
	if cfg.APIKey != "" || cfg.OAuthEnabled() {
		return &ExitError{Code: 2, Err: errors.New("--insecure-no-auth conflicts with SERVAGENT_API_KEY / SERVAGENT_OAUTH_ISSUER_URL: drop the flag or the credentials")}
	}
	return nil
}

// publicURL guesses the URL clients should use for the printed snippets.
func publicURL(scheme, addr string, cfg *config.Config) string {
	host, port, _ := net.SplitHostPort(addr)
	if cfg.ACMEDomain != "" {
		host = cfg.ACMEDomain
	} else if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = "127.0.0.1"
		}
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		return scheme + "://" + host
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func newLogger(ios IO, level string) *slog.Logger {
	var l slog.Level
	switch level {
	case "DEBUG":
		l = slog.LevelDebug
	case "WARNING":
		l = slog.LevelWarn
	case "ERROR", "CRITICAL":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(ios.ErrOut, &slog.HandlerOptions{Level: l}))
}

// extras holds the optional subsystems serve starts beside the server.
type extras struct{ closers []func() }

func (e *extras) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}
