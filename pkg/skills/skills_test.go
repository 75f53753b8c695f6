package skills

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"
)

// write creates dir/name/SKILL.md with content.
func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(d, FileName)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func logger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})), &buf
}

func names(list []Skill) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Name)
	}
	return out
}

func TestHeadingRule(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a", "# Web server\nnginx on :443\n")
	write(t, dir, "b", "Host: smtp.example.com\nPort: 587\n\n\n")
	write(t, dir, "c", "\n  \n\t\n## Docker\ncompose in /srv\n")
	write(t, dir, "d", "\n\n   plain text after blank lines\n")
	log, _ := logger()
	got := Load(dir, log)
	want := []Skill{
		{Name: "a", Path: filepath.Join(dir, "a", FileName), Content: "# Web server\nnginx on :443"},
		{Name: "b", Path: filepath.Join(dir, "b", FileName), Content: "### b\n\nHost: smtp.example.com\nPort: 587"},
		{Name: "c", Path: filepath.Join(dir, "c", FileName), Content: "## Docker\ncompose in /srv"},
		{Name: "d", Path: filepath.Join(dir, "d", FileName), Content: "### d\n\n   plain text after blank lines"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d skills %v, want %d", len(got), names(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("skill %d:\n got %#v\nwant %#v", i, got[i], want[i])
		}
	}
}

func TestRenderAndOrdering(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "zeta", "# Z")
	write(t, dir, "Alpha", "# A")
	write(t, dir, "mid.dle", "m")
	write(t, dir, "10-first", "# 10")
	got := Render(dir, nil)
	want := "## Skills\n\n# 10\n\n# A\n\n### mid.dle\n\nm\n\n# Z\n"
	if got != want {
		t.Errorf("Render:\n%q\nwant\n%q", got, want)
	}
}

func TestNoSkills(t *testing.T) {
	log, buf := logger()
	if got := Render(filepath.Join(t.TempDir(), "missing"), log); got != "" {
		t.Errorf("missing dir: Render = %q", got)
	}
	if buf.Len() != 0 {
		t.Errorf("missing dir should not warn: %s", buf)
	}
	if got := Render("", log); got != "" {
		t.Errorf("empty dir name: Render = %q", got)
	}
	dir := t.TempDir()
	if got := Render(dir, log); got != "" {
		t.Errorf("empty dir: Render = %q", got)
	}
}

func TestSkipped(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "empty", "")
	write(t, dir, "blank", " \n\t\n  \n")
	write(t, dir, ".hidden", "# hidden")
	write(t, dir, "ok", "# ok")
	// No SKILL.md: not a skill.
	os.MkdirAll(filepath.Join(dir, "nofile"), 0o755)
	os.WriteFile(filepath.Join(dir, "nofile", "README.md"), []byte("x"), 0o644)
	// Plain files at the top level are ignored.
	os.WriteFile(filepath.Join(dir, "SKILL.md"), []byte("# top"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	// Invalid name: skipped with a warning.
	write(t, dir, "has space", "# space")

	log, buf := logger()
	got := names(Load(dir, log))
	if strings.Join(got, ",") != "ok" {
		t.Errorf("got %v, want [ok]", got)
	}
	if !strings.Contains(buf.String(), "has space") {
		t.Errorf("invalid name not logged: %s", buf)
	}
	if strings.Contains(buf.String(), "empty") || strings.Contains(buf.String(), "hidden") {
		t.Errorf("empty or hidden skills should not warn: %s", buf)
	}
}

func TestUnreadableSkippedAndLogged(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "good", "# good")
	// SKILL.md that is a directory: open works, read must be refused.
	os.MkdirAll(filepath.Join(dir, "isdir", FileName), 0o755)
	// Dangling symlink.
	os.MkdirAll(filepath.Join(dir, "dangling"), 0o755)
	os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "dangling", FileName))

	log, buf := logger()
	got := names(Load(dir, log))
	if strings.Join(got, ",") != "good" {
		t.Errorf("got %v, want [good]", got)
	}
	out := buf.String()
	for _, want := range []string{
		"level=WARN",
		filepath.Join(dir, "isdir", FileName),
		filepath.Join(dir, "dangling", FileName),
		" err=", // the one key for errors in every log line (issue 12)
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestSymlinksFollowed(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	p := write(t, outside, "real", "# from elsewhere")
	os.MkdirAll(filepath.Join(dir, "linkedfile"), 0o755)
	os.Symlink(p, filepath.Join(dir, "linkedfile", FileName))
	os.Symlink(filepath.Join(outside, "real"), filepath.Join(dir, "linkeddir"))
	got := Load(dir, nil)
	if len(got) != 2 || got[0].Name != "linkeddir" || got[1].Name != "linkedfile" ||
		got[0].Content != "# from elsewhere" || got[1].Content != "# from elsewhere" {
		t.Errorf("got %#v", got)
	}
}

func TestFIFORefused(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "fifo"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo", FileName), 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	log, buf := logger()
	if got := Load(dir, log); len(got) != 0 {
		t.Errorf("got %v", names(got))
	}
	if !strings.Contains(buf.String(), "not a regular file") {
		t.Errorf("log: %s", buf)
	}
}

func TestSkillCap(t *testing.T) {
	dir := t.TempDir()
	line := strings.Repeat("é", 40) + "\n" // multi-byte, to check UTF-8 safety
	big := "# big\n" + strings.Repeat(line, MaxSkillBytes/len(line)+10)
	p := write(t, dir, "big", big)
	write(t, dir, "small", "# small")
	log, buf := logger()
	got := Load(dir, log)
	if len(got) != 2 {
		t.Fatalf("got %v", names(got))
	}
	c := got[0].Content
	if len(c) > MaxSkillBytes+300 {
		t.Errorf("content is %d bytes, want about %d", len(c), MaxSkillBytes)
	}
	if !utf8.ValidString(c) {
		t.Error("truncated content is not valid UTF-8")
	}
	if !strings.Contains(c, "truncated by servagent: "+p) {
		t.Errorf("no truncation note: %q", c[len(c)-200:])
	}
	if !strings.Contains(buf.String(), "too large") || !strings.Contains(buf.String(), p) {
		t.Errorf("no warning: %s", buf)
	}
	if got[1].Content != "# small" {
		t.Errorf("small skill: %q", got[1].Content)
	}
}

func TestTotalCap(t *testing.T) {
	dir := t.TempDir()
	chunk := "# s\n" + strings.Repeat("x", 60<<10)
	for _, n := range []string{"s1", "s2", "s3", "s4", "s5", "s6"} {
		write(t, dir, n, chunk)
	}
	log, buf := logger()
	got := Load(dir, log)
	total := 0
	for _, s := range got {
		total += len(s.Content) + 2
	}
	if total > MaxTotalBytes {
		t.Errorf("total %d > %d", total, MaxTotalBytes)
	}
	if r := Render(dir, nil); len(r) > MaxTotalBytes+len("## Skills\n\n") {
		t.Errorf("Render is %d bytes", len(r))
	}
	// 4 fit whole; the 5th is cut to the remaining room; the 6th is left out.
	if strings.Join(names(got), ",") != "s1,s2,s3,s4,s5" {
		t.Errorf("got %v", names(got))
	}
	if !strings.Contains(got[4].Content, "truncated by servagent") {
		t.Error("s5 should carry a truncation note")
	}
	if !strings.Contains(buf.String(), "left out") || !strings.Contains(buf.String(), "s6") {
		t.Errorf("log: %s", buf)
	}
}

func TestReloadSeesEdits(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a", "# v1")
	if r := Render(dir, nil); !strings.Contains(r, "# v1") {
		t.Fatalf("first: %q", r)
	}
	write(t, dir, "a", "# v2")
	write(t, dir, "b", "new skill")
	r := Render(dir, nil)
	if !strings.Contains(r, "# v2") || strings.Contains(r, "# v1") || !strings.Contains(r, "### b") {
		t.Errorf("after edit: %q", r)
	}
	os.RemoveAll(filepath.Join(dir, "a"))
	os.RemoveAll(filepath.Join(dir, "b"))
	if r := Render(dir, nil); r != "" {
		t.Errorf("after removal: %q", r)
	}
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"webserver", true},
		{"smtp_relay-2.0", true},
		{"A", true},
		{"_x", true},
		{"9lives", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{".", false},
		{"..", false},
		{".hidden", false},
		{"-rf", false},
		{"../x", false},
		{"a/b", false},
		{"a\\b", false},
		{"/abs", false},
		{"has space", false},
		{"tab\t", false},
		{"new\nline", false},
		{"héllo", false},
		{"a*b", false},
		{"a\x00b", false},
	} {
		err := ValidName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestNames(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "b", "")
	write(t, dir, "a", "# a")
	write(t, dir, ".x", "# x")
	os.MkdirAll(filepath.Join(dir, "c"), 0o755)
	got, err := Names(dir)
	if err != nil || strings.Join(got, ",") != "a,b" {
		t.Errorf("Names = %v, %v", got, err)
	}
	if _, err := Names(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("missing dir: %v", err)
	}
}

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"héllo", 2, "h"}, // é is 2 bytes: don't split it
		{"héllo", 3, "hé"},
		{"line one\nline two", 12, "line one"},
		{"ab\ncdefghijkl", 10, "ab\ncdefghi"},
		{"x", 0, ""},
		{"line one two\nab€", 16, "line one two"}, // the cut falls inside €: the line end still wins
	} {
		if got := cut(tc.s, tc.n); got != tc.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
