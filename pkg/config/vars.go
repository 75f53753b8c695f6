package config

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

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
	VarTools                 = "SERVAGENT_TOOLS"
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

// defaultTools is SERVAGENT_TOOLS's default, the reference's: the two tools
// that can do everything (execute_command) and bring files over (upload_file).
const defaultTools = "execute_command,upload_file"

// DefaultTools returns SERVAGENT_TOOLS's default as a list: the tools a fresh
// install exposes.
func DefaultTools() []string { return splitList(defaultTools) }

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
		set: func(c *Config, v string) (err error) { c.CommandTimeout, err = parseSeconds(v, 1, 7*24*3600); return }},
	{Name: "SERVAGENT_MAX_OUTPUT_SIZE", Flag: "max-output-size", Default: "1000000", Usage: "cap in bytes on each output stream returned to the model",
		set: func(c *Config, v string) (err error) { c.MaxOutputSize, err = parseSize(v, 1024); return }},
	{Name: "SERVAGENT_COMMAND_YIELD", Flag: "command-yield", Default: "40", Usage: "seconds after which execute_command returns a job id for a command still running (0: wait until it ends)",
		set: func(c *Config, v string) (err error) { c.CommandYield, err = parseSeconds(v, 0, 3600); return }},
	{Name: "SERVAGENT_MAX_JOBS", Flag: "max-jobs", Default: "16", Usage: "commands running at most (background, PTY, yielded, and those still within their call)",
		set: func(c *Config, v string) (err error) { c.MaxJobs, err = parseInt(v, 1, 1024); return }},
	{Name: "SERVAGENT_JOB_RETENTION", Flag: "job-retention", Default: "3600", Usage: "seconds a finished job's output stays readable",
		set: func(c *Config, v string) (err error) { c.JobRetention, err = parseSeconds(v, 1, 7*24*3600); return }},
	{Name: "SERVAGENT_UPLOAD_MAX_SIZE", Flag: "upload-max-size", Default: "100000000", Usage: "largest file accepted by /upload and upload_file, in bytes",
		set: func(c *Config, v string) (err error) { c.UploadMaxSize, err = parseSize(v, 1); return }},
	{Name: VarTLSCertFile, Flag: "tls-certfile", Usage: "TLS certificate chain (PEM); enables HTTPS",
		set: func(c *Config, v string) error { c.TLSCertFile = v; return nil }},
	{Name: VarTLSKeyFile, Flag: "tls-keyfile", Usage: "TLS private key (PEM)",
		set: func(c *Config, v string) error { c.TLSKeyFile = v; return nil }},
	{Name: VarTools, Flag: "tools", Default: defaultTools, Usage: "tools to expose: a comma list, or all",
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
		set: func(c *Config, v string) (err error) { c.SessionTimeout, err = parseSeconds(v, 1, 30*24*3600); return }},
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
		set: func(c *Config, v string) (err error) { c.OAuthRefreshReuse, err = parseSeconds(v, 0, 3600); return }},
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

func parseInt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("expected an integer between %d and %d", lo, hi)
	}
	return n, nil
}

// parseSeconds reads a whole number of seconds between lo and hi.
func parseSeconds(v string, lo, hi int) (time.Duration, error) {
	n, err := parseInt(v, lo, hi)
	return time.Duration(n) * time.Second, err
}

func parseSize(v string, lo int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < lo {
		return 0, fmt.Errorf("expected a whole number of bytes, at least %d", lo)
	}
	return n, nil
}

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
