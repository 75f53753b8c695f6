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
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	t.Setenv("INNOCENT_COPY", "prefix-sekrit-123-suffix")
	t.Setenv("DATABASE_URL", "postgres://app:url-pw-pqr@db.local:5432/app")
	t.Setenv("SERVAGENT_HOST", "0.0.0.0")
	env := newTestEnv(t)
	env.SecretEnv = []string{"MYAPP_SIGNING"}

	res := callTool(t, env, "get_environment", nil)
	all := sysResultJSON(t, res)
	for k, v := range secrets {
		if strings.Contains(all, v) {
			t.Errorf("value of %s leaked", k)
		}
	}
	if strings.Contains(all, "url-pw-pqr") {
		t.Error("password inside DATABASE_URL leaked")
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
	if got["SERVAGENT_HOST"].Value != "0.0.0.0" || got["PATH"].Value == "" || got["PATH"].Redacted {
		t.Errorf("ordinary variables must be shown: %+v %+v", got["SERVAGENT_HOST"], got["PATH"])
	}
	for i := 1; i < len(out.Variables); i++ {
		if out.Variables[i-1].Name > out.Variables[i].Name {
			t.Fatalf("not sorted at %s", out.Variables[i].Name)
		}
	}
	if out.Redacted < len(secrets)+2 {
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
