package tools

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/servagent/servagent/pkg/textutil"
)

func TestProgramName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"ls -la /etc", "ls"},
		{"  FOO=bar BAZ=qux make install", "make"},
		// The review's case: a quoted assignment with a space must be skipped whole.
		{"PGPASSWORD='hunter2 TOPSECRETPART' psql -h db", "psql"},
		{`TOKEN="a b \" c" curl -s x`, "curl"},
		{`A=x\ y env`, "env"},
		{"'FOO=bar' cmd", "FOO=…"}, // a quoted name is not an assignment, but its value is still not shown
		// The second review's cases: expansions are one word, a non-assignment with '=' shows its name only.
		{"PGPASSWORD=${X:-hunter2 secret} psql", "psql"},
		{"PGPASSWORD=`echo a b` psql", "psql"},
		{"PGPASSWORD=$(cat /run/pw | tr -d x) psql -h db", "psql"},
		{"!PGPASSWORD=hunter2secret psql", "!PGPASSWORD=…"},
		{"FOO=bar", ""},
		{"./run.sh --x", "./run.sh"},
		{"/usr/bin/env X=1 prog", "/usr/bin/env"},
		{"X=1;rm -rf /tmp/x", ""},
		{"cd /srv && make", "cd"},
		{"", ""},
		{"'unterminated quote", "unterminated quote"},
		{"9X=1 prog", "9X=…"},
		{strings.Repeat("a", 60), strings.Repeat("a", 40)},
	} {
		if got := ProgramName(tc.in); got != tc.want {
			t.Errorf("ProgramName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAuditArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tool, args string
		want       []string
		never      []string
	}{
		{tool: "execute_command", args: `{"command":"PGPASSWORD='hunter2 TOPSECRETPART' psql","timeout":5,"stdin":"secret input","work_dir":"/srv"}`,
			want:  []string{`command="psql"…(39 chars)`, "timeout=5", "stdin=<14 bytes>", `work_dir="/srv"`},
			never: []string{"hunter2", "TOPSECRET", "secret input"}},
		{tool: "write_file", args: `{"path":"/etc/app.conf","content":"password=hunter2"}`,
			want: []string{`path="/etc/app.conf"`, "content=<18 bytes>"}, never: []string{"hunter2"}},
		// An argument a tool does not declare is never shown, even if another tool shows it.
		{tool: "execute_command", args: `{"command":"ls","path":"/secret/place"}`,
			want: []string{"path=<15 bytes>"}, never: []string{"/secret/place"}},
		{tool: "read_file", args: `{"path":"/` + strings.Repeat("x", 300) + `"}`, want: []string{"…"}},
		{tool: "read_file", args: `[1,2]`, want: []string{"<5 bytes, not an object>"}},
	} {
		got := AuditArgs(tc.tool, json.RawMessage(tc.args))
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("AuditArgs(%s, %s) = %q, missing %q", tc.tool, tc.args, got, w)
			}
		}
		for _, n := range tc.never {
			if strings.Contains(got, n) {
				t.Errorf("AuditArgs(%s, %s) = %q, leaks %q", tc.tool, tc.args, got, n)
			}
		}
		if len(got) > 400 {
			t.Errorf("AuditArgs line is %d bytes", len(got))
		}
	}
}

// A clipped value or program name never ends inside a UTF-8 sequence; ASCII
// is cut at the same byte as ever.
func TestAuditCutsAreUTF8Safe(t *testing.T) {
	t.Parallel()
	// `"` then two-byte runes: byte 200 falls inside one.
	got := AuditArgs("read_file", json.RawMessage(`{"path":"`+strings.Repeat("é", 150)+`"}`))
	if want := `path="` + strings.Repeat("é", 99) + "…"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	got = AuditArgs("read_file", json.RawMessage(`{"path":"`+strings.Repeat("x", 300)+`"}`))
	if want := `path="` + strings.Repeat("x", 199) + "…"; got != want {
		t.Errorf("ASCII: got %q\nwant %q", got, want)
	}
	for _, cmd := range []string{"a" + strings.Repeat("é", 30), strings.Repeat("日", 20), "ab" + strings.Repeat("🙂", 15)} {
		prog := ProgramName(cmd)
		if !utf8.ValidString(prog) || len(prog) > 40 || len(prog) < 37 || !strings.HasPrefix(cmd, prog) {
			t.Errorf("ProgramName(%q) = %q (%d bytes)", cmd, prog, len(prog))
		}
	}
	if got := textutil.CutBytes("日本", 2); got != "" {
		t.Errorf("CutBytes inside the first rune = %q", got)
	}
}
