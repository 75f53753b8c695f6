// Package config loads servagent's settings from, highest first, command-line
// flags, the environment, a .env file and built-in defaults, and validates
// them. Every error names the variable, the bad value and what is expected.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/servagent/servagent/pkg/netname"
)

// Config is the validated configuration of a servagent process.
type Config struct {
	Host           string
	Port           int
	APIKey         string
	WorkDir        string
	CommandTimeout time.Duration
	MaxOutputSize  int64
	UploadMaxSize  int64
	TLSCertFile    string
	TLSKeyFile     string
	Tools          []string
	LogLevel       string
	// AllowedHosts, when set, lists the Host header values accepted on the
	// MCP endpoints; it replaces the SDK's loopback-only DNS-rebinding rule.
	AllowedHosts []string
	// TrustedProxies lists the peers whose X-Forwarded-For names the client
	// for rate limiting; empty: none (loopback is not trusted implicitly).
	TrustedProxies []netip.Prefix
	// Protocols are the MCP protocol eras served on /mcp: "legacy"
	// (initialize sessions) and/or "2026-07-28" (per-request).
	Protocols      []string
	SessionTimeout time.Duration
	SkillsDir      string
	StateDir       string

	OAuthIssuerURL        string
	OAuthClientID         string
	OAuthClientSecret     string
	OAuthDBPath           string
	OAuthRedirectURIs     []string
	OAuthApproval         string // "operator" (default) or "auto"
	OAuthApprovalPassword string
	OAuthCIMD             bool   // accept URL client ids (client ID metadata documents)
	OAuthCIMDCAFile       string // extra CA for fetching documents; also allows loopback hosts
	OAuthRefreshReuse     time.Duration

	ACMEDomain       string
	ACMEEmail        string
	ACMEDirectory    string
	ACMECAFile       string
	ACMEHTTPPort     int // 0: no HTTP-01 listener while serving
	ACMERenewBefore  time.Duration
	ReadWritePaths   []string // used by install for the unit's ReadWritePaths
	EnvFile          string   // the .env file that was read, if any
	InsecureNoAuth   bool     // set by the serve flag only
	UnknownVariables []string // SERVAGENT_* names in the env file or environment that nothing reads
	Warnings         []string // problems that do not stop startup (an env file others can read)

	// CommandYield: execute_command returns a job id for a command still
	// running after this long (0: wait until it ends).
	CommandYield time.Duration
	MaxJobs      int           // jobs running at most
	JobRetention time.Duration // how long a finished job stays readable
}

// OAuthEnabled reports whether the OAuth authorization server is on.
func (c *Config) OAuthEnabled() bool { return c.OAuthIssuerURL != "" }

// TLSEnabled reports whether serve speaks HTTPS.
func (c *Config) TLSEnabled() bool { return c.TLSCertFile != "" }

// Addr is the listen address.
func (c *Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// LoopbackOnly reports whether the listen host is a loopback address or name.
func (c *Config) LoopbackOnly() bool { return netname.IsLoopbackHost(c.Host) }

// Error is a configuration error: one line, naming the variable.
type Error struct {
	Var      string
	Value    string
	Expected string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid %s=%q: %s", e.Var, e.Value, e.Expected)
}

// IsConfigError reports whether err is (or wraps) a configuration error: a
// bad value or a refused env file.
func IsConfigError(err error) bool {
	var ce *Error
	var fe *EnvFileError
	return errors.As(err, &ce) || errors.As(err, &fe)
}

// LoadOptions are the inputs of Load.
type LoadOptions struct {
	// Flags holds values of flags the user set explicitly, keyed by variable name.
	Flags map[string]string
	// Getenv reads the process environment (os.LookupEnv when nil).
	LookupEnv func(string) (string, bool)
	// Environ lists the environment (os.Environ when nil); used to spot unknown SERVAGENT_ names.
	Environ []string
	// EnvFile is an explicit .env path. Empty: ./.env, else /opt/servagent/.env.
	EnvFile string
	// DefaultEnvFiles overrides the search list used when EnvFile is empty.
	DefaultEnvFiles []string
	// ValidTools lists tool names accepted in SERVAGENT_TOOLS.
	ValidTools []string
	// InsecureNoAuth is the serve flag of the same name.
	InsecureNoAuth bool
}

// DefaultEnvFiles are tried in order when no --env-file is given.
var DefaultEnvFiles = []string{".env", "/opt/servagent/.env"}

// Load reads and validates the configuration.
func Load(opts LoadOptions) (*Config, error) {
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	c := &Config{InsecureNoAuth: opts.InsecureNoAuth}
	file, err := c.readEnvFile(opts)
	if err != nil {
		return nil, err
	}
	for _, v := range Vars {
		val := v.Default
		if fv, ok := file[v.Name]; ok {
			val = fv
		}
		if ev, ok := lookup(v.Name); ok {
			val = ev
		}
		if fl, ok := opts.Flags[v.Name]; ok {
			val = fl
		}
		if err := v.apply(c, val); err != nil {
			return nil, err
		}
	}
	c.UnknownVariables = unknownVariables(file, environ)
	if err := c.validate(opts.ValidTools); err != nil {
		return nil, err
	}
	return c, nil
}

// Settings returns the typed view of a .env file's values (as ReadEnvFile
// returns them) over the defaults, each checked as Load checks it, without
// the environment, flags or the checks that need the running machine. Install
// and update read the installed .env through it.
func Settings(values map[string]string) (*Config, error) {
	c := &Config{}
	for _, v := range Vars {
		val := v.Default
		if fv, ok := values[v.Name]; ok {
			val = fv
		}
		if err := v.apply(c, val); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// readEnvFile reads the explicit env file, else the first default one that
// exists, and records which one it was.
func (c *Config) readEnvFile(opts LoadOptions) (map[string]string, error) {
	candidates := opts.DefaultEnvFiles
	if candidates == nil {
		candidates = DefaultEnvFiles
	}
	if opts.EnvFile != "" {
		if _, err := os.Stat(opts.EnvFile); err != nil {
			return nil, fmt.Errorf("env file: %w", err)
		}
		candidates = []string{opts.EnvFile}
	}
	for _, p := range candidates {
		m, warning, err := readTrustedEnvFile(p)
		if err != nil {
			return nil, err
		}
		if m != nil {
			c.EnvFile = p
			if warning != "" {
				c.Warnings = append(c.Warnings, warning)
			}
			return m, nil
		}
	}
	return nil, nil
}

// unknownVariables lists, sorted, the SERVAGENT_* names in the env file or
// the environment that no setting reads.
func unknownVariables(file map[string]string, environ []string) []string {
	known := map[string]bool{}
	for _, v := range Vars {
		known[v.Name] = true
	}
	var out []string
	add := func(k string) {
		if strings.HasPrefix(k, "SERVAGENT_") && !known[k] && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	for k := range file {
		add(k)
	}
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		add(k)
	}
	sort.Strings(out)
	return out
}

func (c *Config) validate(validTools []string) error {
	if c.WorkDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return &Error{Var: "SERVAGENT_WORK_DIR", Value: "", Expected: "the current directory cannot be read: " + err.Error()}
		}
		c.WorkDir = wd
	} else {
		abs, err := filepath.Abs(c.WorkDir)
		if err != nil {
			return &Error{Var: "SERVAGENT_WORK_DIR", Value: c.WorkDir, Expected: err.Error()}
		}
		fi, err := os.Stat(abs)
		if err != nil || !fi.IsDir() {
			return &Error{Var: "SERVAGENT_WORK_DIR", Value: c.WorkDir, Expected: "an existing directory"}
		}
		c.WorkDir = abs
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		if c.TLSCertFile == "" {
			return &Error{Var: "SERVAGENT_TLS_CERTFILE", Value: "", Expected: "a certificate file, since SERVAGENT_TLS_KEYFILE is set (set both or neither)"}
		}
		return &Error{Var: "SERVAGENT_TLS_KEYFILE", Value: "", Expected: "a key file, since SERVAGENT_TLS_CERTFILE is set (set both or neither)"}
	}
	if len(validTools) > 0 {
		tools, err := ResolveTools(c.Tools, validTools)
		if err != nil {
			return err
		}
		c.Tools = tools
	}
	for _, h := range c.AllowedHosts {
		if strings.ContainsAny(h, "/ ") {
			return &Error{Var: "SERVAGENT_ALLOWED_HOSTS", Value: h, Expected: "host names or host:port values, without scheme or path"}
		}
	}
	home, _ := os.UserHomeDir()
	if c.StateDir == "" {
		c.StateDir = filepath.Join(home, ".servagent")
	}
	if c.OAuthDBPath == "" {
		c.OAuthDBPath = filepath.Join(home, ".servagent", "oauth.db")
	}
	if c.SkillsDir == "" {
		c.SkillsDir = "skills"
	}
	if !filepath.IsAbs(c.SkillsDir) {
		if abs, err := filepath.Abs(c.SkillsDir); err == nil {
			c.SkillsDir = abs
		}
	}
	return c.validateOAuth()
}

func (c *Config) validateOAuth() error {
	if (c.OAuthClientID == "") != (c.OAuthClientSecret == "") {
		if c.OAuthClientID == "" {
			return &Error{Var: "SERVAGENT_OAUTH_CLIENT_ID", Value: "", Expected: "a client id, since SERVAGENT_OAUTH_CLIENT_SECRET is set (set both or neither)"}
		}
		return &Error{Var: "SERVAGENT_OAUTH_CLIENT_SECRET", Value: "", Expected: "a client secret, since SERVAGENT_OAUTH_CLIENT_ID is set (set both or neither)"}
	}
	// RFC 6749 §2.3.1 form-encodes Basic credentials and clients differ in
	// whether they do: only unreserved characters read the same either way.
	if !IsUnreserved(c.OAuthClientID) {
		return &Error{Var: "SERVAGENT_OAUTH_CLIENT_ID", Value: c.OAuthClientID, Expected: "only letters, digits and - . _ ~ (run servagent oauth gen-credentials)"}
	}
	if !IsUnreserved(c.OAuthClientSecret) {
		return &Error{Var: "SERVAGENT_OAUTH_CLIENT_SECRET", Value: "(hidden)", Expected: "only letters, digits and - . _ ~ (run servagent oauth gen-credentials)"}
	}
	if c.OAuthIssuerURL == "" {
		return nil
	}
	if _, err := netname.IssuerURL(c.OAuthIssuerURL); err != nil {
		return &Error{Var: VarOAuthIssuerURL, Value: c.OAuthIssuerURL, Expected: err.Error()}
	}
	for _, r := range c.OAuthRedirectURIs {
		ru, err := url.Parse(r)
		if err != nil || !ru.IsAbs() || ru.Fragment != "" {
			return &Error{Var: "SERVAGENT_OAUTH_REDIRECT_URIS", Value: r, Expected: "absolute redirect URIs without fragment"}
		}
	}
	return nil
}

// IsUnreserved reports whether s holds only RFC 3986 unreserved characters,
// which form-encoding leaves unchanged.
func IsUnreserved(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)) {
			return false
		}
	}
	return true
}

// ResolveTools expands "all" and checks names against the valid list.
func ResolveTools(names, valid []string) ([]string, error) {
	if len(names) == 1 && strings.EqualFold(names[0], "all") {
		return slices.Clone(valid), nil
	}
	var out []string
	for _, n := range names {
		if !slices.Contains(valid, n) {
			return nil, &Error{Var: "SERVAGENT_TOOLS", Value: strings.Join(names, ","),
				Expected: fmt.Sprintf("unknown tool %q; valid tools: all, %s", n, strings.Join(valid, ", "))}
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, &Error{Var: "SERVAGENT_TOOLS", Value: "", Expected: "at least one tool, or all; valid tools: " + strings.Join(valid, ", ")}
	}
	return out, nil
}

// The protocol eras of SERVAGENT_PROTOCOLS.
const (
	ProtocolLegacy   = "legacy"
	Protocol20260728 = "2026-07-28"
)

// Serves reports whether protocol era p is on.
func (c *Config) Serves(p string) bool { return slices.Contains(c.Protocols, p) }

// Proxies returns the trusted reverse proxies: SERVAGENT_TRUSTED_PROXIES
// only. Nothing is trusted implicitly, not even loopback: any local user,
// or a request forged through a local service, could otherwise pick the
// address the limiters count on.
func (c *Config) Proxies() []netip.Prefix { return c.TrustedProxies }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
