package server_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/servagent/servagent/pkg/logtest"
	"github.com/servagent/servagent/pkg/server"
	"github.com/servagent/servagent/pkg/server/servertest"
)

// TestAuditLineHidesSecrets drives real calls through the server and reads
// the audit lines it logs: paths and the program name are shown, secrets in
// assignments (quoted ones included), file contents and stdin are not.
func TestAuditLineHidesSecrets(t *testing.T) {
	var logs logtest.Buffer
	cfg := servertest.Config(t, nil)
	inst := servertest.Start(t, server.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	call(t, cs, "execute_command", map[string]any{"command": "PGPASSWORD='hunter2 TOPSECRETPART' API_TOKEN=abc true -c 'select 1'", "stdin": "typed secret"})
	call(t, cs, "write_file", map[string]any{"path": cfg.WorkDir + "/x.conf", "content": "secret body"})
	got := logs.String()
	for _, leak := range []string{"hunter2", "TOPSECRETPART", "abc", "secret body", "typed secret"} {
		if strings.Contains(got, leak) {
			t.Errorf("audit log leaks %q:\n%s", leak, got)
		}
	}
	for _, want := range []string{`command=\"true\"`, `path=\"` + cfg.WorkDir + `/x.conf\"`, "content=<13 bytes>", "stdin=<14 bytes>", "tool=write_file"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit log lacks %q:\n%s", want, got)
		}
	}
}
