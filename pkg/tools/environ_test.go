package tools

import (
	"strings"
	"testing"
)

// The reference returned SERVAGENT_API_KEY to the model.
func TestGetEnvironmentRedactsSecrets(t *testing.T) {
	secrets := map[string]string{
		"SERVAGENT_API_KEY":                 "sekrit-123",
		"SERVAGENT_OAUTH_CLIENT_SECRET":     "oauth-sec-456",
		"SERVAGENT_OAUTH_APPROVAL_PASSWORD": "approve-789",
		"MY_DB_PASSWORD":                    "hunter2-xyz",
		"github_token":                      "ghp-lower-abc",
		"AWS_SECRET_ACCESS_KEY":             "aws-sec-def",
		"SMTP_PASSWD":                       "smtp-pw-ghi",
		"GOOGLE_APPLICATION_CREDENTIALS":    "/etc/gcp-cred-jkl.json",
		"MYAPP_SIGNING":                     "signing-mno", // named in SecretEnv only
		"MYSQL_PWD":                         "mysql-pwd-stu",
		"DB_PASS":                           "db-pass-vwx",
		"GITHUB_PAT":                        "ghp-pat-yz1",
		"SENTRY_DSN":                        "https://dsnkey234@o1.ingest.sentry.io/5",
		"BASIC_AUTH":                        "basic-auth-567",
	}
	// Credentials inside URLs and connection strings: the variable is
	// shown, its credential is not.
	embedded := map[string]struct{ value, credential string }{
		"DATABASE_URL": {"postgres://app:url-pw-pqr@db.local:5432/app", "url-pw-pqr"},
		"GIT_REMOTE":   {"clone https://tok-in-url-890@git.example/x.git now", "tok-in-url-890"},
		// Shapes the review found leaking whole or in part.
		"REDIS_URL": {"redis://:pa/ss-rv1@cache:6379/0", "pa/ss-rv1"},
		"PG_URL":    {"postgres://u:p@ss-rv2@db/app", "ss-rv2"},
		"BARE_DSN":  {"u:pw-rv3@db:5432", "pw-rv3"},
		"HOOK":      {"https://hooks.example/x?token=tok-rv4&x=1", "tok-rv4"},
		"CONN_STR":  {"Server=db;User Id=app;Password=pw-rv5;", "pw-rv5"},
		"MY_JWT":    {"eyJ-rv6", "rv6"},
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	for k, v := range embedded {
		t.Setenv(k, v.value)
	}
	t.Setenv("INNOCENT_COPY", "prefix-sekrit-123-suffix")
	t.Setenv("SERVAGENT_HOST", "0.0.0.0")
	t.Setenv("PWD", "/srv/app")
	t.Setenv("PASSAGE_DIR", "/srv/passage")
	env := newTestEnv(t)
	env.SecretEnv = []string{"MYAPP_SIGNING"}

	res := callTool(t, env, "get_environment", nil)
	all := sysResultJSON(t, res)
	for k, v := range secrets {
		if strings.Contains(all, v) {
			t.Errorf("value of %s leaked", k)
		}
	}
	leaks := []string{"dsnkey234"} // SENTRY_DSN is redacted whole: not even its key shows
	for _, v := range embedded {
		leaks = append(leaks, v.credential)
	}
	for _, v := range leaks {
		if strings.Contains(all, v) {
			t.Errorf("credential %s inside a URL leaked", v)
		}
	}
	out := structured[GetEnvironmentOutput](t, res)
	got := map[string]EnvVar{}
	for _, v := range out.Variables {
		got[v.Name] = v
	}
	for k := range secrets {
		if v := got[k]; v.Value != "[redacted]" || !v.Redacted {
			t.Errorf("%s = %+v", k, v)
		}
	}
	if got["INNOCENT_COPY"].Value != "prefix-[redacted]-suffix" {
		t.Errorf("copy of a secret: %+v", got["INNOCENT_COPY"])
	}
	if v := got["DATABASE_URL"].Value; !strings.HasPrefix(v, "postgres://app:") || !strings.Contains(v, "@db.local:5432/app") {
		t.Errorf("DATABASE_URL = %q", v)
	}
	if got["PWD"].Value != "/srv/app" || got["PASSAGE_DIR"].Value != "/srv/passage" || !strings.Contains(got["GIT_REMOTE"].Value, "@git.example/x.git now") {
		t.Errorf("innocent names and URL hosts must be shown: %+v %+v %+v", got["PWD"], got["PASSAGE_DIR"], got["GIT_REMOTE"])
	}
	if got["SERVAGENT_HOST"].Value != "0.0.0.0" || got["PATH"].Value == "" || got["PATH"].Redacted {
		t.Errorf("ordinary variables must be shown: %+v %+v", got["SERVAGENT_HOST"], got["PATH"])
	}
	for i := 1; i < len(out.Variables); i++ {
		if out.Variables[i-1].Name > out.Variables[i].Name {
			t.Fatalf("not sorted at %s", out.Variables[i].Name)
		}
	}
	if out.Redacted < len(secrets)+len(embedded)+1 { // +1: INNOCENT_COPY
		t.Errorf("redacted count %d", out.Redacted)
	}
}

func TestGetEnvironmentFilter(t *testing.T) {
	t.Setenv("SERVAGENT_API_KEY", "sekrit-123")
	t.Setenv("SERVAGENT_WORK_DIR", "/srv")
	res := callTool(t, newTestEnv(t), "get_environment", map[string]any{"filter": "servagent_"})
	out := structured[GetEnvironmentOutput](t, res)
	for _, v := range out.Variables {
		if !strings.Contains(strings.ToLower(v.Name), "servagent_") {
			t.Errorf("filter let %s through", v.Name)
		}
	}
	if len(out.Variables) < 2 || strings.Contains(sysResultJSON(t, res), "sekrit-123") {
		t.Errorf("got %+v", out)
	}
	if !strings.Contains(resultText(res), "SERVAGENT_WORK_DIR=/srv\n") {
		t.Errorf("text %q", resultText(res))
	}
	out = structured[GetEnvironmentOutput](t, callTool(t, newTestEnv(t), "get_environment", map[string]any{"filter": "no-such-variable-xyz"}))
	if len(out.Variables) != 0 {
		t.Errorf("got %+v", out)
	}
}

// serve wipes its secrets from its own environment before any tool runs, so
// the values come through Env: a copy of the key under another name is
// still hidden.
func TestGetEnvironmentRedactsCopiesOfServagentSecrets(t *testing.T) {
	t.Setenv("DEPLOY_HOOK_URL", "https://hooks.example/deploy?k=COPYKEY0123456789")
	t.Setenv("DEPLOY_TARGET", "prod")
	env := newTestEnv(t)
	env.SecretValues = []string{"COPYKEY0123456789", "", "short"}
	res := callTool(t, env, "get_environment", map[string]any{"filter": "DEPLOY"})
	if strings.Contains(sysResultJSON(t, res), "COPYKEY0123456789") {
		t.Fatalf("the key's value reached the model: %s", sysResultJSON(t, res))
	}
	out := structured[GetEnvironmentOutput](t, res)
	if out.Redacted != 1 || !strings.Contains(resultText(res), "DEPLOY_TARGET=prod\n") {
		t.Errorf("redacted %d, text %q", out.Redacted, resultText(res))
	}
}
