package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func testIO(in string) (IO, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return IO{In: strings.NewReader(in), Out: &out, ErrOut: &errOut}, &out, &errOut
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("error %v is not an ExitError", err)
	}
	return int(ee.Code)
}

func readSkill(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name, "SKILL.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDefaultSkillsDir(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "SERVAGENT_SKILLS_DIR" {
				return v
			}
			return ""
		}
	}
	yes := func(p string) bool { return p == installedSkillsDir }
	no := func(string) bool { return false }
	cwd, _ := os.Getwd()

	for _, tc := range []struct {
		name  string
		env   string
		isDir func(string) bool
		want  string
	}{
		{"env wins", "/srv/skills", yes, "/srv/skills"},
		{"relative env made absolute", "my-skills", no, filepath.Join(cwd, "my-skills")},
		{"installed layout", "", yes, installedSkillsDir},
		{"dev fallback", "", no, filepath.Join(cwd, "skills")},
	} {
		if got := defaultSkillsDir(env(tc.env), tc.isDir); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestSkillsAddFromFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "skills") // created by add
	src := filepath.Join(t.TempDir(), "smtp.md")
	os.WriteFile(src, []byte("# smtp\nRelay: smtp.example.com:587\n"), 0o600)

	ios, out, _ := testIO("")
	err := runSkillsAdd(context.Background(), &skillsAddOptions{IO: ios, Dir: dir, Name: "smtp", File: src, StdinTTY: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := readSkill(t, dir, "smtp"); got != "# smtp\nRelay: smtp.example.com:587\n" {
		t.Errorf("content %q", got)
	}
	if !strings.Contains(out.String(), `Added skill "smtp"`) {
		t.Errorf("output %q", out)
	}
	fi, _ := os.Stat(filepath.Join(dir, "smtp", "SKILL.md"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 (skills hold secrets)", fi.Mode().Perm())
	}
	for _, d := range []string{dir, filepath.Join(dir, "smtp")} {
		if di, _ := os.Stat(d); di.Mode().Perm() != 0o700 {
			t.Errorf("%s: dir mode %v, want 0700", d, di.Mode().Perm())
		}
	}
	// A skill written 0644 by an older version is tightened when replaced.
	os.Chmod(filepath.Join(dir, "smtp", "SKILL.md"), 0o644)

	// Adding again replaces and says so.
	os.WriteFile(src, []byte("# smtp v2\n"), 0o600)
	out.Reset()
	if err := runSkillsAdd(context.Background(), &skillsAddOptions{IO: ios, Dir: dir, Name: "smtp", File: src}); err != nil {
		t.Fatal(err)
	}
	if got := readSkill(t, dir, "smtp"); got != "# smtp v2\n" {
		t.Errorf("content %q", got)
	}
	if !strings.Contains(out.String(), "Replaced existing skill") {
		t.Errorf("output %q", out)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "smtp", "SKILL.md")); fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced skill mode %v, want 0600", fi.Mode().Perm())
	}

	// Missing file: one clear error, nothing written.
	err = runSkillsAdd(context.Background(), &skillsAddOptions{IO: ios, Dir: dir, Name: "x", File: src + ".missing"})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestSkillsAddFromStdin(t *testing.T) {
	dir := t.TempDir()
	ios, out, _ := testIO("Web root: /var/www\n")
	if err := runSkillsAdd(context.Background(), &skillsAddOptions{IO: ios, Dir: dir, Name: "web"}); err != nil {
		t.Fatal(err)
	}
	if got := readSkill(t, dir, "web"); got != "Web root: /var/www\n" {
		t.Errorf("content %q", got)
	}
	if !strings.Contains(out.String(), "Added") {
		t.Errorf("output %q", out)
	}

	// --file - reads stdin even when it is a terminal.
	ios, _, _ = testIO("# via dash\n")
	if err := runSkillsAdd(context.Background(), &skillsAddOptions{IO: ios, Dir: dir, Name: "dash", File: "-", StdinTTY: true}); err != nil {
		t.Fatal(err)
	}
	if got := readSkill(t, dir, "dash"); got != "# via dash\n" {
		t.Errorf("content %q", got)
	}
}

func TestSkillsAddRefusesEmpty(t *testing.T) {
	dir := t.TempDir()
	ios, _, _ := testIO(" \n\t\n")
	err := runSkillsAdd(context.Background(), &skillsAddOptions{IO: ios, Dir: dir, Name: "blank"})
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blank")); !os.IsNotExist(err) {
		t.Errorf("skill dir created for empty content: %v", err)
	}
}

func TestSkillsAddWithEditor(t *testing.T) {
	dir := t.TempDir()
	bin := t.TempDir()
	// The editor gets an extra argument first, as "code -w" would, then the
	// file; it appends to what is there so the prefill can be checked.
	script := filepath.Join(bin, "fake-editor")
	os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = --wait ] || exit 3\nprintf '# edited\\nby editor\\n' >> \"$2\"\n"), 0o755)

	t.Setenv("EDITOR", script+" --wait")
	ios, out, _ := testIO("")
	if err := runSkillsAdd(context.Background(), &skillsAddOptions{IO: ios, Dir: dir, Name: "ed", StdinTTY: true}); err != nil {
		t.Fatal(err)
	}
	if got := readSkill(t, dir, "ed"); got != "# edited\nby editor\n" {
		t.Errorf("content %q", got)
	}
	if !strings.Contains(out.String(), "Added") {
		t.Errorf("output %q", out)
	}

	// Editing an existing skill starts from its content.
	if err := runSkillsAdd(context.Background(), &skillsAddOptions{IO: ios, Dir: dir, Name: "ed", StdinTTY: true}); err != nil {
		t.Fatal(err)
	}
	if got := readSkill(t, dir, "ed"); got != "# edited\nby editor\n# edited\nby editor\n" {
		t.Errorf("content %q", got)
	}

	// A failing editor writes nothing.
	err := runSkillsAdd(context.Background(), &skillsAddOptions{IO: ios, Dir: dir, Name: "fail", StdinTTY: true, Editor: script + " --nope"})
	if err == nil || !strings.Contains(err.Error(), "editor") {
		t.Errorf("failing editor: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "fail")); !os.IsNotExist(err) {
		t.Errorf("skill written despite editor failure")
	}

	// An editor that saves nothing is refused as empty.
	err = runSkillsAdd(context.Background(), &skillsAddOptions{IO: ios, Dir: dir, Name: "none", StdinTTY: true, Editor: "true"})
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty edit: %v", err)
	}
}

func TestSkillsListShowRemovePath(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for name, content := range map[string]string{
		"web":  "\n# Web server\nnginx\n",
		"smtp": "Relay: smtp.example.com\n",
		"void": "  \n",
	} {
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		os.WriteFile(filepath.Join(dir, name, "SKILL.md"), []byte(content), 0o644)
	}
	os.MkdirAll(filepath.Join(dir, "notaskill"), 0o755)

	ios, out, _ := testIO("")
	if err := runSkillsList(ctx, &skillsOptions{IO: ios, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("list:\n%s", out)
	}
	for i, want := range [][]string{
		{"NAME", "SIZE", "TITLE"},
		{"smtp", "24 B", "Relay: smtp.example.com"},
		{"void", "3 B", "(empty, not used)"},
		{"web", "20 B", "# Web server"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("list line %d %q lacks %q", i, lines[i], w)
			}
		}
	}

	out.Reset()
	if err := runSkillsShow(ctx, &skillsOptions{IO: ios, Dir: dir, Name: "web"}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "\n# Web server\nnginx\n" {
		t.Errorf("show printed %q", out)
	}
	err := runSkillsShow(ctx, &skillsOptions{IO: ios, Dir: dir, Name: "nope"})
	if err == nil || exitCode(t, err) != 1 || !strings.Contains(err.Error(), `no skill "nope"`) {
		t.Errorf("show missing: %v", err)
	}

	out.Reset()
	if err := runSkillsRemove(ctx, &skillsOptions{IO: ios, Dir: dir, Name: "web"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "web")); !os.IsNotExist(err) {
		t.Errorf("web still there: %v", err)
	}
	if !strings.Contains(out.String(), `Removed skill "web"`) {
		t.Errorf("output %q", out)
	}
	// Siblings untouched.
	if _, err := os.Stat(filepath.Join(dir, "smtp", "SKILL.md")); err != nil {
		t.Error(err)
	}

	err = runSkillsRemove(ctx, &skillsOptions{IO: ios, Dir: dir, Name: "web"})
	if err == nil || !strings.Contains(err.Error(), "no skill") {
		t.Errorf("remove twice: %v", err)
	}

	out.Reset()
	if err := runSkillsPath(ctx, &skillsOptions{IO: ios, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if out.String() != dir+"\n" {
		t.Errorf("path printed %q", out)
	}
}

func TestSkillsListEmptyAndMissing(t *testing.T) {
	ctx := context.Background()
	ios, out, errOut := testIO("")
	if err := runSkillsList(ctx, &skillsOptions{IO: ios, Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 || !strings.Contains(errOut.String(), "No skills in") {
		t.Errorf("empty: out %q err %q", out, errOut)
	}
	errOut.Reset()
	if err := runSkillsList(ctx, &skillsOptions{IO: ios, Dir: filepath.Join(t.TempDir(), "x")}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "does not exist") {
		t.Errorf("missing: err %q", errOut)
	}
}

func TestSkillsRemoveRefusesNonSkill(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	ios, _, _ := testIO("")
	os.MkdirAll(filepath.Join(dir, "data"), 0o755)
	os.WriteFile(filepath.Join(dir, "data", "keep.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "plainfile"), []byte("x"), 0o644)

	for _, name := range []string{"data", "plainfile"} {
		err := runSkillsRemove(ctx, &skillsOptions{IO: ios, Dir: dir, Name: name})
		if err == nil || !strings.Contains(err.Error(), "not a skill") {
			t.Errorf("remove %s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "keep.txt")); err != nil {
		t.Errorf("non-skill dir was touched: %v", err)
	}

	// A linked skill dir: only the link goes, the target stays.
	target := filepath.Join(t.TempDir(), "real")
	os.MkdirAll(target, 0o755)
	os.WriteFile(filepath.Join(target, "SKILL.md"), []byte("# real"), 0o644)
	os.Symlink(target, filepath.Join(dir, "linked"))
	if err := runSkillsRemove(ctx, &skillsOptions{IO: ios, Dir: dir, Name: "linked"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "linked")); !os.IsNotExist(err) {
		t.Errorf("link still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, "SKILL.md")); err != nil {
		t.Errorf("link target removed: %v", err)
	}
}

func TestSkillsBadNames(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "skills")
	os.MkdirAll(filepath.Join(root, "x"), 0o755)
	os.WriteFile(filepath.Join(root, "x", "SKILL.md"), []byte("# outside"), 0o644)
	ctx := context.Background()
	for _, name := range []string{"../x", "a/b", "..", ".hidden", "-rf", "", "has space", strings.Repeat("n", 65)} {
		ios, _, _ := testIO("# content\n")
		for what, err := range map[string]error{
			"add":    runSkillsAdd(ctx, &skillsAddOptions{IO: ios, Dir: dir, Name: name}),
			"show":   runSkillsShow(ctx, &skillsOptions{IO: ios, Dir: dir, Name: name}),
			"remove": runSkillsRemove(ctx, &skillsOptions{IO: ios, Dir: dir, Name: name}),
		} {
			if err == nil || exitCode(t, err) != 2 || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s %q: %v", what, name, err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root, "x", "SKILL.md")); err != nil {
		t.Errorf("../x was touched: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("skills dir created by a refused add: %v", err)
	}
}

// TestSkillsCommandTree runs the cobra commands end to end, with --dir.
func TestSkillsCommandTree(t *testing.T) {
	dir := t.TempDir()
	run := func(in string, args ...string) (string, string, error) {
		ios, out, errOut := testIO(in)
		root := NewRootCmd(&Factory{IO: ios})
		root.SetArgs(append([]string{"skills", "--dir", dir}, args...))
		err := root.Execute()
		return out.String(), errOut.String(), err
	}
	if _, _, err := run("# ops\nOn call: alice\n", "add", "ops"); err != nil {
		t.Fatal(err)
	}
	out, _, err := run("", "list")
	if err != nil || !strings.Contains(out, "ops") || !strings.Contains(out, "# ops") {
		t.Errorf("list: %q %v", out, err)
	}
	out, _, err = run("", "show", "ops")
	if err != nil || out != "# ops\nOn call: alice\n" {
		t.Errorf("show: %q %v", out, err)
	}
	out, _, err = run("", "path")
	if err != nil || out != dir+"\n" {
		t.Errorf("path: %q %v", out, err)
	}
	if _, _, err := run("", "rm", "ops"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run("", "show", "a/b"); err == nil {
		t.Error("bad name accepted")
	}
	if _, _, err := run("", "show"); err == nil {
		t.Error("missing NAME accepted")
	}
}

func TestSkillsDirFromEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SERVAGENT_SKILLS_DIR", dir)
	ios, out, _ := testIO("")
	root := NewRootCmd(&Factory{IO: ios})
	root.SetArgs([]string{"skills", "path"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if out.String() != dir+"\n" {
		t.Errorf("path = %q, want %q", out, dir)
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(strings.NewReader("")) {
		t.Error("a strings.Reader is not a terminal")
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Skip(err)
	}
	defer null.Close()
	if isTerminal(null) {
		t.Error("/dev/null is not a terminal")
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	if isTerminal(r) {
		t.Error("a pipe is not a terminal")
	}
}

func TestSkillsDirFromDefaultEnvFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	want := filepath.Join(dir, "from-dotenv")
	os.WriteFile(".env", []byte("SERVAGENT_SKILLS_DIR="+want+"\n"), 0o600)
	if got := settingFromEnvOrFile("SERVAGENT_SKILLS_DIR"); got != want {
		t.Fatalf("from ./.env: %q", got)
	}
	t.Setenv("SERVAGENT_SKILLS_DIR", "/from/env")
	if got := settingFromEnvOrFile("SERVAGENT_SKILLS_DIR"); got != "/from/env" {
		t.Fatalf("environment should win: %q", got)
	}
}

// TestSkillsAddAsRootKeepsTheServiceUserOwner: root adding a skill to the
// installed layout's directory (owned by the service user) must leave files
// that user can read, although they are 0600.
func TestSkillsAddAsRootKeepsTheServiceUserOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown the skills directory to another user")
	}
	dir := filepath.Join(t.TempDir(), "skills")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	const uid, gid = 65534, 65534
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	ios, _, _ := testIO("# smtp\nrelay\n")
	if err := runSkillsAdd(context.Background(), &skillsAddOptions{IO: ios, Dir: dir, Name: "smtp", File: "-"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "smtp"), filepath.Join(dir, "smtp", "SKILL.md")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != uid || st.Gid != gid {
			t.Errorf("%s owned by %d:%d, want %d:%d (the skills directory's owner)", p, st.Uid, st.Gid, uid, gid)
		}
	}
}
