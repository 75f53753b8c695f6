package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/servagent/servagent/pkg/buildinfo"
	"github.com/servagent/servagent/pkg/clientconfig"
	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/instructions"
	"github.com/servagent/servagent/pkg/netname"
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
	Ready func(addr string)
	// LookupEnv and Environ default to the process environment.
	LookupEnv       func(string) (string, bool)
	Environ         []string
	DefaultEnvFiles []string
}

func newServeCmd(f *Factory, runF func(*ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{IO: f.IO}
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
	cfg, err := loadServeConfig(opts)
	if err != nil {
		return err
	}
	logger := newLogger(opts.IO, cfg.LogLevel)
	for _, name := range cfg.UnknownVariables {
		logger.Warn("unknown setting ignored", "name", name)
	}
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	if cfg.InsecureNoAuth {
		logger.Warn("serving WITHOUT authentication (--insecure-no-auth); anyone who can reach this loopback port controls this machine")
	}
	// What serve derives lives beside the validated config, never in it.
	sopts := server.Options{Config: cfg, Logger: logger, APIKey: cfg.APIKey}
	generated := cfg.APIKey == "" && !cfg.InsecureNoAuth && !cfg.OAuthEnabled()
	if generated {
		sopts.APIKey = secret.NewKey()
	}
	ib := &instructions.Builder{Host: instructions.Probe(ctx, cfg.WorkDir), SkillsDir: cfg.SkillsDir, Logger: logger.With("component", "skills")}
	sopts.Instructions = ib.Build

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
		if ln, err = srv.Listen(); err != nil {
			return err
		}
	}
	host, port := cfg.Host, cfg.Port // keep 0.0.0.0 as configured rather than the dual-stack [::]
	if opts.Listener != nil {
		a := ln.Addr().(*net.TCPAddr)
		host, port = a.IP.String(), a.Port
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	tls := cfg.TLSEnabled() || sopts.CertFile != ""
	scheme := "http"
	if tls {
		scheme = "https"
	}
	if generated {
		fmt.Fprintf(opts.IO.ErrOut, "\nNo SERVAGENT_API_KEY is set: generated one for this run only (it changes at every start).\n"+
			"Set SERVAGENT_API_KEY in the environment or a .env file to keep one.\n\n%s\n",
			clientconfig.Render(clientconfig.MCPURL(tls, host, port, cfg.ACMEDomain), sopts.APIKey))
	}
	logger.Info("servagent listening", "version", buildinfo.Version, "url", scheme+"://"+addr+"/mcp",
		"tools", strings.Join(cfg.Tools, ","), "oauth", cfg.OAuthEnabled(), "env_file", cfg.EnvFile)
	if opts.Ready != nil {
		opts.Ready(addr)
	}
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}

// loadServeConfig reads and checks the settings, then makes sure no secret
// stays in this process's environment block.
func loadServeConfig(opts *ServeOptions) (*config.Config, error) {
	lookup := opts.LookupEnv
	if lookup == nil {
		received, err := secret.Received()
		if err != nil {
			return nil, err
		}
		lookup = func(k string) (string, bool) {
			if v, ok := received[k]; ok {
				return v, true
			}
			return os.LookupEnv(k)
		}
	}
	cfg, err := config.Load(config.LoadOptions{
		Flags:           opts.Flags,
		EnvFile:         opts.EnvFile,
		LookupEnv:       lookup,
		Environ:         opts.Environ,
		DefaultEnvFiles: opts.DefaultEnvFiles,
		ValidTools:      tools.Names(),
		InsecureNoAuth:  opts.InsecureNoAuth,
	})
	if err != nil {
		return nil, err
	}
	if err := checkAuthSetup(cfg, opts.Listener); err != nil {
		return nil, err
	}
	if opts.LookupEnv == nil {
		// The tools can read /proc/<this pid>/environ: the secrets are
		// wiped from it in place or, where the kernel refuses that, serve
		// goes on in a fresh image of itself whose environment holds none.
		names := server.SecretEnvNames()
		if err := secret.Scrub(names); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "servagent: %v; re-executing without the secrets in the environment instead\n", err)
			if herr := secret.Handover(names); herr != nil {
				return nil, fmt.Errorf("%w; %w", err, herr)
			}
		}
	}
	return cfg, nil
}

// checkAuthSetup refuses the combinations that would serve without a
// credential or with a meaningless one.
func checkAuthSetup(cfg *config.Config, ln net.Listener) error {
	if !cfg.InsecureNoAuth {
		if cfg.OAuthEnabled() && cfg.OAuthApproval == "operator" && cfg.OAuthApprovalPassword == "" && cfg.APIKey == "" {
			return &config.Error{Var: config.VarOAuthApprovalPassword, Value: "",
				Expected: "a secret for the approval page (or set SERVAGENT_API_KEY, or SERVAGENT_OAUTH_APPROVAL=auto)"}
		}
		return nil
	}
	host := cfg.Host
	if ln != nil {
		host, _, _ = net.SplitHostPort(ln.Addr().String())
	}
	if !netname.IsLoopbackHost(host) {
		return usagef("--insecure-no-auth is only allowed on a loopback address; SERVAGENT_HOST is %q (use --host 127.0.0.1)", cfg.Host)
	}
	if cfg.APIKey != "" || cfg.OAuthEnabled() {
		return usagef("--insecure-no-auth conflicts with SERVAGENT_API_KEY / SERVAGENT_OAUTH_ISSUER_URL: drop the flag or the credentials")
	}
	return nil
}

// newLogger is the one logger policy of the commands: text on stderr at the
// configured level; each subsystem adds its "component" attribute.
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
