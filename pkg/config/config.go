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
	"unicode"

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
func (c *Config) LoopbackOnly() bool { return IsLoopbackHost(c.Host) }

// IsLoopbackHost reports whether host (no port) names the loopback
// interface; it is netname.IsLoopbackHost, kept for existing callers.
func IsLoopbackHost(host string) bool { return netname.IsLoopbackHost(host) }

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

// Var describes one setting.
type Var struct {
	Name    string // SERVAGENT_...
	Flag    string // serve flag name, "" when the setting has no flag (secrets)
	Default string
	Usage   string
	Secret  bool
	set     func(c *Config, v string) error
}

// Names of the settings that other packages read or write in a .env file
// (install, tls setup, oauth gen-credentials), each spelled once.
const (
	VarHost                  = "SERVAGENT_HOST"
	VarPort                  = "SERVAGENT_PORT"
	VarAPIKey                = "SERVAGENT_API_KEY"
	VarTLSCertFile           = "SERVAGENT_TLS_CERTFILE"
	VarTLSKeyFile            = "SERVAGENT_TLS_KEYFILE"
	VarSkillsDir             = "SERVAGENT_SKILLS_DIR"
	VarStateDir              = "SERVAGENT_STATE_DIR"
	VarOAuthDBPath           = "SERVAGENT_OAUTH_DB_PATH"
	VarACMEDomain            = "SERVAGENT_ACME_DOMAIN"
	VarACMEEmail             = "SERVAGENT_ACME_EMAIL"
	VarACMEDirectory         = "SERVAGENT_ACME_DIRECTORY"
	VarACMECAFile            = "SERVAGENT_ACME_CA_FILE"
	VarOAuthIssuerURL        = "SERVAGENT_OAUTH_ISSUER_URL"
	VarOAuthClientID         = "SERVAGENT_OAUTH_CLIENT_ID"
	VarOAuthClientSecret     = "SERVAGENT_OAUTH_CLIENT_SECRET"
	VarOAuthApprovalPassword = "SERVAGENT_OAUTH_APPROVAL_PASSWORD"
)

// Vars lists every setting servagent reads, in documentation order.
var Vars = []Var{
	{Name: VarHost, Flag: "host", Default: "0.0.0.0", Usage: "interface to listen on",
		set: func(c *Config, v string) error { c.Host = v; return nil }},
	{Name: VarPort, Flag: "port", Default: "8765", Usage: "TCP port to listen on",
		set: func(c *Config, v string) (err error) { c.Port, err = parseInt(v, 1, 65535); return }},
	{Name: VarAPIKey, Usage: "bearer key for /mcp, /sse, /messages/, /upload (generated for the run when empty)", Secret: true,
		set: func(c *Config, v string) error { c.APIKey = v; return nil }},
	{Name: "SERVAGENT_WORK_DIR", Flag: "work-dir", Usage: "default working directory of commands and base of relative paths (default: current directory)",
		set: func(c *Config, v string) error { c.WorkDir = v; return nil }},
	{Name: "SERVAGENT_COMMAND_TIMEOUT", Flag: "command-timeout", Default: "300", Usage: "default execute_command timeout in seconds",
		set: func(c *Config, v string) error {
			n, err := parseInt(v, 1, 7*24*3600)
			c.CommandTimeout = time.Duration(n) * time.Second
			return err
		}},
	{Name: "SERVAGENT_MAX_OUTPUT_SIZE", Flag: "max-output-size", Default: "1000000", Usage: "cap in bytes on each output stream returned to the model",
		set: func(c *Config, v string) (err error) { c.MaxOutputSize, err = parseSize(v, 1024); return }},
	{Name: "SERVAGENT_COMMAND_YIELD", Flag: "command-yield", Default: "40", Usage: "seconds after which execute_command returns a job id for a command still running (0: wait until it ends)",
		set: func(c *Config, v string) error {
			n, err := parseInt(v, 0, 3600)
			c.CommandYield = time.Duration(n) * time.Second
			return err
		}},
	{Name: "SERVAGENT_MAX_JOBS", Flag: "max-jobs", Default: "16", Usage: "jobs (background, PTY or yielded commands) running at most",
		set: func(c *Config, v string) (err error) { c.MaxJobs, err = parseInt(v, 1, 1024); return }},
	{Name: "SERVAGENT_JOB_RETENTION", Flag: "job-retention", Default: "3600", Usage: "seconds a finished job's output stays readable",
		set: func(c *Config, v string) error {
			n, err := parseInt(v, 1, 7*24*3600)
			c.JobRetention = time.Duration(n) * time.Second
			return err
		}},
	{Name: "SERVAGENT_UPLOAD_MAX_SIZE", Flag: "upload-max-size", Default: "100000000", Usage: "largest file accepted by /upload and upload_file, in bytes",
		set: func(c *Config, v string) (err error) { c.UploadMaxSize, err = parseSize(v, 1); return }},
	{Name: VarTLSCertFile, Flag: "tls-certfile", Usage: "TLS certificate chain (PEM); enables HTTPS",
		set: func(c *Config, v string) error { c.TLSCertFile = v; return nil }},
	{Name: VarTLSKeyFile, Flag: "tls-keyfile", Usage: "TLS private key (PEM)",
		set: func(c *Config, v string) error { c.TLSKeyFile = v; return nil }},
	{Name: "SERVAGENT_TOOLS", Flag: "tools", Default: "execute_command,upload_file", Usage: "tools to expose: a comma list, or all",
		set: func(c *Config, v string) error { c.Tools = splitList(v); return nil }},
	{Name: "SERVAGENT_LOG_LEVEL", Flag: "log-level", Default: "INFO", Usage: "DEBUG, INFO, WARNING or ERROR",
		set: func(c *Config, v string) error {
			u := strings.ToUpper(strings.TrimSpace(v))
			if u == "WARN" {
				u = "WARNING"
			}
			if !slices.Contains([]string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}, u) {
				return errors.New("expected one of DEBUG, INFO, WARNING, ERROR")
			}
			c.LogLevel = u
			return nil
		}},
	{Name: "SERVAGENT_ALLOWED_HOSTS", Flag: "allowed-hosts", Usage: "Host header values accepted on MCP endpoints (comma list); needed behind a reverse proxy on loopback",
		set: func(c *Config, v string) error { c.AllowedHosts = splitList(v); return nil }},
	{Name: "SERVAGENT_TRUSTED_PROXIES", Flag: "trusted-proxies", Usage: "reverse proxies (IPs or CIDRs, comma list) whose X-Forwarded-For names the client for the limiters (default: none, not even loopback)",
		set: func(c *Config, v string) (err error) { c.TrustedProxies, err = parsePrefixes(splitList(v)); return }},
	{Name: "SERVAGENT_PROTOCOLS", Flag: "protocols", Default: "legacy,2026-07-28", Usage: "MCP protocol eras served on /mcp: legacy (initialize sessions, 2024-11-05 to 2025-11-25) and/or 2026-07-28 (per-request)",
		set: func(c *Config, v string) error {
			c.Protocols = splitList(v)
			if len(c.Protocols) == 0 {
				return errors.New("expected legacy, 2026-07-28 or both")
			}
			for _, p := range c.Protocols {
				if p != ProtocolLegacy && p != Protocol20260728 {
					return errors.New("expected legacy, 2026-07-28 or both")
				}
			}
			return nil
		}},
	{Name: "SERVAGENT_SESSION_TIMEOUT", Flag: "session-timeout", Default: "1800", Usage: "seconds after which an idle MCP session is closed",
		set: func(c *Config, v string) error {
			n, err := parseInt(v, 1, 30*24*3600)
			c.SessionTimeout = time.Duration(n) * time.Second
			return err
		}},
	{Name: VarSkillsDir, Flag: "skills-dir", Usage: "directory of skills/<name>/SKILL.md (default: ./skills)",
		set: func(c *Config, v string) error { c.SkillsDir = v; return nil }},
	{Name: VarStateDir, Usage: "state directory for ACME account and certificates (default: ~/.servagent)",
		set: func(c *Config, v string) error { c.StateDir = v; return nil }},
	{Name: VarOAuthIssuerURL, Usage: "public URL of the OAuth issuer, ending in /mcp; enables OAuth",
		set: func(c *Config, v string) error { c.OAuthIssuerURL = strings.TrimRight(v, "/"); return nil }},
	{Name: VarOAuthClientID, Usage: "operator OAuth client id (static client, guards /mcp/register)",
		set: func(c *Config, v string) error { c.OAuthClientID = v; return nil }},
	{Name: VarOAuthClientSecret, Usage: "operator OAuth client secret", Secret: true,
		set: func(c *Config, v string) error { c.OAuthClientSecret = v; return nil }},
	{Name: VarOAuthDBPath, Usage: "SQLite file of OAuth clients and tokens (default: ~/.servagent/oauth.db)",
		set: func(c *Config, v string) error { c.OAuthDBPath = v; return nil }},
	{Name: "SERVAGENT_OAUTH_REDIRECT_URIS", Usage: "extra redirect URIs of the static client (comma list)",
		set: func(c *Config, v string) error { c.OAuthRedirectURIs = splitList(v); return nil }},
	{Name: "SERVAGENT_OAUTH_APPROVAL", Default: "operator", Usage: "operator (approval page asks for a secret) or auto",
		set: func(c *Config, v string) error {
			v = strings.ToLower(strings.TrimSpace(v))
			if v != "operator" && v != "auto" {
				return errors.New("expected operator or auto")
			}
			c.OAuthApproval = v
			return nil
		}},
	{Name: VarOAuthApprovalPassword, Usage: "secret asked by the approval page (default: the API key)", Secret: true,
		set: func(c *Config, v string) error { c.OAuthApprovalPassword = v; return nil }},
	{Name: "SERVAGENT_OAUTH_CIMD", Default: "on", Usage: "accept client ID metadata documents (URL client ids, as Claude.ai and ChatGPT register): on or off",
		set: func(c *Config, v string) error {
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "on", "true", "1", "yes":
				c.OAuthCIMD = true
			case "off", "false", "0", "no":
				c.OAuthCIMD = false
			default:
				return errors.New("expected on or off")
			}
			return nil
		}},
	{Name: "SERVAGENT_OAUTH_CIMD_CA_FILE", Usage: "extra CA bundle trusted when fetching client metadata documents; also allows loopback document hosts (tests)",
		set: func(c *Config, v string) error { c.OAuthCIMDCAFile = v; return nil }},
	{Name: "SERVAGENT_OAUTH_REFRESH_REUSE_INTERVAL", Default: "30", Usage: "seconds during which a just-rotated refresh token may be presented again and gets the same new tokens (0: any reuse revokes them)",
		set: func(c *Config, v string) error {
			n, err := parseInt(v, 0, 3600)
			c.OAuthRefreshReuse = time.Duration(n) * time.Second
			return err
		}},
	{Name: VarACMEDomain, Usage: "domain whose certificate serve renews in-process (set by install / tls setup)",
		set: func(c *Config, v string) error { c.ACMEDomain = strings.ToLower(strings.TrimSpace(v)); return nil }},
	{Name: VarACMEEmail, Usage: "contact email of the ACME account",
		set: func(c *Config, v string) error { c.ACMEEmail = v; return nil }},
	{Name: VarACMEDirectory, Default: "https://acme-v02.api.letsencrypt.org/directory", Usage: "ACME directory URL",
		set: func(c *Config, v string) error { c.ACMEDirectory = v; return nil }},
	{Name: VarACMECAFile, Usage: "extra CA bundle trusted for the ACME server's HTTPS (tests, private CAs)",
		set: func(c *Config, v string) error { c.ACMECAFile = v; return nil }},
	{Name: "SERVAGENT_ACME_HTTP_PORT", Default: "0", Usage: "port for HTTP-01 challenges and the HTTPS redirect while serving (0: off, use TLS-ALPN-01)",
		set: func(c *Config, v string) (err error) { c.ACMEHTTPPort, err = parseInt(v, 0, 65535); return }},
	{Name: "SERVAGENT_ACME_RENEW_BEFORE", Default: "720h", Usage: "renew the certificate when less than this remains",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return errors.New("expected a positive Go duration such as 720h")
			}
			c.ACMERenewBefore = d
			return nil
		}},
	{Name: "SERVAGENT_READ_WRITE_PATHS", Usage: "extra paths the hardened unit may write (install; comma list)",
		set: func(c *Config, v string) error { c.ReadWritePaths = splitList(v); return nil }},
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

// apply checks and sets one value.
func (v Var) apply(c *Config, val string) error {
	if strings.IndexFunc(val, unicode.IsControl) >= 0 {
		// Values end up in unit files, headers and logs: a control
		// character there is an injection, never a setting.
		return &Error{Var: v.Name, Value: "[contains control characters]", Expected: "a value without control characters"}
	}
	if err := v.set(c, val); err != nil {
		shown := val
		if v.Secret {
			shown = "[redacted]"
		}
		return &Error{Var: v.Name, Value: shown, Expected: err.Error()}
	}
	return nil
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

func parseInt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("expected an integer between %d and %d", lo, hi)
	}
	return n, nil
}

func parseSize(v string, lo int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < lo {
		return 0, fmt.Errorf("expected a whole number of bytes, at least %d", lo)
	}
	return n, nil
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

func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range list {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", v)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
