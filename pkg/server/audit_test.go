package server

import (
	"strings"
	"testing"
)

func TestSummarizeArgsHidesSecrets(t *testing.T) {
	got := summarizeArgs([]byte(`{"command":"PGPASSWORD=hunter2 API_TOKEN=abc psql -c 'select 1'","path":"/etc/x","content":"secret body","env":{"K":"v"}}`))
	for _, leak := range []string{"hunter2", "abc", "secret body", `"v"`} {
		if strings.Contains(got, leak) {
			t.Errorf("summary leaks %q: %s", leak, got)
		}
	}
	for _, want := range []string{`command="psql"`, `path="/etc/x"`, "content=<13 bytes>"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q: %s", want, got)
		}
	}
}
