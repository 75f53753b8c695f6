package osrelease

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPrettyName(t *testing.T) {
	cases := []struct {
		name    string
		content string
		want    string
		ok      bool
	}{
		{"double quotes", "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n", "Debian GNU/Linux 12 (bookworm)", true},
		{"single quotes", "PRETTY_NAME='Alpine Linux v3.20'\n", "Alpine Linux v3.20", true},
		{"unquoted", "PRETTY_NAME=Arch\n", "Arch", true},
		{"escapes", `PRETTY_NAME="My \"OS\" 1"` + "\n", `My "OS" 1`, true},
		{"blanks around the line", "  PRETTY_NAME=\"Fedora Linux 40\"  \n", "Fedora Linux 40", true},
		{"the last assignment wins", "PRETTY_NAME=Old\nPRETTY_NAME=New\n", "New", true},
		{"NAME and VERSION", "NAME=\"Ubuntu\"\nVERSION=\"24.04 LTS (Noble Numbat)\"\n", "Ubuntu 24.04 LTS (Noble Numbat)", true},
		{"NAME alone", "NAME=Gentoo\n", "Gentoo", true},
		{"empty PRETTY_NAME falls back to NAME", "PRETTY_NAME=\"\"\nNAME=Void\n", "Void", true},
		{"no name", "ID=debian\n# a comment\n\n", "", false},
		{"empty file", "", "", false},
	}
	for _, c := range cases {
		p := filepath.Join(t.TempDir(), "os-release")
		if err := os.WriteFile(p, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, ok := PrettyName([]string{p}); got != c.want || ok != c.ok {
			t.Errorf("%s: got %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// A missing file, or one that names nothing, passes to the next one.
func TestPrettyNameReadsTheFilesInOrder(t *testing.T) {
	dir := t.TempDir()
	nameless, first, second := filepath.Join(dir, "nameless"), filepath.Join(dir, "first"), filepath.Join(dir, "second")
	os.WriteFile(nameless, []byte("ID=x\n"), 0o644)
	os.WriteFile(first, []byte("PRETTY_NAME=First\n"), 0o644)
	os.WriteFile(second, []byte("PRETTY_NAME=Second\n"), 0o644)
	if got, ok := PrettyName([]string{filepath.Join(dir, "absent"), nameless, second, first}); got != "Second" || !ok {
		t.Errorf("got %q, %v; want the second file's name", got, ok)
	}
	if got, ok := PrettyName([]string{filepath.Join(dir, "absent")}); got != "" || ok {
		t.Errorf("no file: got %q, %v", got, ok)
	}
	if got, ok := PrettyName(nil); got != "" || ok {
		t.Errorf("no paths: got %q, %v", got, ok)
	}
}

// The standard location comes first.
func TestFiles(t *testing.T) {
	if f := Files(); len(f) != 2 || f[0] != "/etc/os-release" || f[1] != "/usr/lib/os-release" {
		t.Errorf("Files() = %q", f)
	}
}
