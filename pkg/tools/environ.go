package tools

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const redacted = "[redacted]"

// alwaysSecret are servagent's own secrets, redacted even when the Env was
// built without them in SecretEnv.
var alwaysSecret = []string{"SERVAGENT_API_KEY", "SERVAGENT_OAUTH_CLIENT_SECRET", "SERVAGENT_OAUTH_APPROVAL_PASSWORD"}

// secretWords anywhere in a variable name mark its value as a secret.
var secretWords = []string{"KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL"}

// secretParts are words of a name (split at '_', '-' and '.') that mark a
// secret: too short to match inside other words (PASS in PASSAGE, PAT in
// PATH), they count only as whole parts: DB_PASS, MYSQL_PWD, GITHUB_PAT,
// SENTRY_DSN, BASIC_AUTH.
var secretParts = []string{"PASS", "PWD", "PAT", "DSN", "AUTH", "COOKIE", "CREDS", "PRIVATE", "SALT", "OTP", "SIGNATURE", "JWT", "BEARER"}

// notSecret are names that match a part but are well known not to be.
var notSecret = []string{"PWD", "OLDPWD"}

// urlUserinfo finds the userinfo of URLs anywhere in a value: from the
// scheme to the last '@' of the word, so a password holding '/' or an
// unencoded '@' is caught whole (over-redacting a path is the safe side).
var urlUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^\s'"]*)@`)

// bareUserinfo is user:password@host without a scheme (u:pw@db:5432).
var bareUserinfo = regexp.MustCompile(`(^|[\s;,=])([A-Za-z0-9._~-]+):([^\s@/]+)@([A-Za-z0-9.-]+)`)

// secretParam is a password or token given as key=value in a query string
// or a connection string (?password=…, Password=…;).
var secretParam = regexp.MustCompile(`(?i)\b(password|passwd|pwd|pass|token|access_token|secret|api_?key|apikey|auth)=([^;&\s]+)`)

// GetEnvironmentInput are the arguments of get_environment.
type GetEnvironmentInput struct {
	Filter string `json:"filter,omitempty" jsonschema:"case-insensitive substring of the variable name, e.g. PATH or PROXY"`
}

// EnvVar is one environment variable.
type EnvVar struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Redacted bool   `json:"redacted,omitempty"`
}

// GetEnvironmentOutput is the result of get_environment.
type GetEnvironmentOutput struct {
	Variables []EnvVar `json:"variables"`
	Redacted  int      `json:"redacted" jsonschema:"how many values were replaced by [redacted]"`
}

var getEnvironmentTool = define(Tool{
	Name:  "get_environment",
	Title: "Environment variables",
	Description: "Show servagent's own environment variables, sorted by name. Values of secrets (servagent's API key and OAuth secrets; names containing KEY, SECRET, TOKEN, PASSWORD, PASSWD, PASSPHRASE or CREDENTIAL, or with a part such as PASS, PWD, PAT, DSN or AUTH; passwords and tokens in URLs) are shown as [redacted] and cannot be revealed here. " +
		"filter is a case-insensitive substring of the name. Commands run by execute_command get this environment with its real values, secrets included, except servagent's own API key and OAuth secrets, which are removed.",
	Hints: Hints{ReadOnly: true, Idempotent: true},
}, (*Env).getEnvironment)

// isSecretName says whether a variable's value must not reach the model.
func (e *Env) isSecretName(name string) bool {
	if slices.Contains(e.SecretEnv, name) || slices.Contains(alwaysSecret, name) {
		return true
	}
	up := strings.ToUpper(name)
	for _, w := range secretWords {
		if strings.Contains(up, w) {
			return true
		}
	}
	if slices.Contains(notSecret, up) {
		return false
	}
	for _, part := range strings.FieldsFunc(up, func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		if slices.Contains(secretParts, part) {
			return true
		}
	}
	return false
}

func (e *Env) getEnvironment(_ context.Context, _ *mcp.CallToolRequest, in GetEnvironmentInput) (*mcp.CallToolResult, GetEnvironmentOutput, error) {
	filter := strings.ToLower(in.Filter)
	environ := os.Environ()
	// Secret values, so that a copy under an innocent name is caught too.
	var secrets []string
	for _, v := range e.SecretValues {
		if len(v) >= 6 {
			secrets = append(secrets, v)
		}
	}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if e.isSecretName(k) && len(v) >= 6 {
			secrets = append(secrets, v)
		}
	}
	out := GetEnvironmentOutput{Variables: []EnvVar{}}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if filter != "" && !strings.Contains(strings.ToLower(k), filter) {
			continue
		}
		ev := EnvVar{Name: k, Value: v}
		if e.isSecretName(k) {
			ev.Value, ev.Redacted = redacted, true
		} else {
			ev.Value, ev.Redacted = redactValue(v, secrets)
		}
		if ev.Redacted {
			out.Redacted++
		}
		out.Variables = append(out.Variables, ev)
	}
	slices.SortFunc(out.Variables, func(a, b EnvVar) int { return strings.Compare(a.Name, b.Name) })

	ht := NewHeadTail(outputLimit(e.MaxOutputSize))
	for _, v := range out.Variables {
		fmt.Fprintf(ht, "%s=%s\n", v.Name, v.Value)
	}
	if len(out.Variables) == 0 {
		fmt.Fprintf(ht, "(no variable name contains %q)\n", in.Filter)
	}
	if out.Redacted > 0 {
		fmt.Fprintf(ht, "(%d secret values redacted)\n", out.Redacted)
	}
	return textResult("%s", ht.String()), out, nil
}

// redactValue hides secrets inside an innocently named value: a password in
// a URL (DATABASE_URL=postgres://u:pw@h/db) or a copy of a secret's value.
func redactValue(v string, secrets []string) (string, bool) {
	changed := false
	for _, s := range secrets {
		if strings.Contains(v, s) {
			v = strings.ReplaceAll(v, s, redacted)
			changed = true
		}
	}
	// A URL's userinfo: user:password keeps the user; a lone user is
	// usually the credential itself (a token, a Sentry DSN key).
	v2 := urlUserinfo.ReplaceAllStringFunc(v, func(m string) string {
		sub := urlUserinfo.FindStringSubmatch(m)
		if user, _, hasPw := strings.Cut(sub[2], ":"); hasPw && !strings.ContainsAny(user, "/@") {
			return sub[1] + user + ":" + redacted + "@"
		}
		return sub[1] + redacted + "@"
	})
	v2 = bareUserinfo.ReplaceAllString(v2, "${1}${2}:"+redacted+"@${4}")
	v2 = secretParam.ReplaceAllString(v2, "${1}="+redacted)
	if v2 != v {
		v, changed = v2, true
	}
	return v, changed
}
