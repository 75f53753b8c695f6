package userpath

import (
	"errors"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	r := Resolver{WorkDir: "/srv/work", Home: func() (string, error) { return "/home/op", nil }}
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "/etc/hosts", want: "/etc/hosts"},
		{in: "  /etc/hosts\n", want: "/etc/hosts"},
		{in: "a/b/../c", want: "/srv/work/a/c"},
		{in: ".", want: "/srv/work"},
		{in: "~", want: "/home/op"},
		{in: "~/x/y", want: "/home/op/x/y"},
		{in: "~other/x", want: "/srv/work/~other/x"},
		{in: "/a//b/./c/", want: "/a/b/c"},
		{in: "", err: "path is empty"},
		{in: " \t", err: "path is empty"},
		{in: "/etc/\x00passwd", err: "NUL byte"},
	} {
		got, err := r.Resolve(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Resolve(%q) = %q, %v; want error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestResolveHomeError(t *testing.T) {
	boom := errors.New("no home")
	r := Resolver{WorkDir: "/w", Home: func() (string, error) { return "", boom }}
	if _, err := r.Resolve("~/x"); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want wrapping %v", err, boom)
	}
	if _, err := (Resolver{WorkDir: "/w"}).Resolve(""); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty path: err = %v, want ErrEmpty", err)
	}
}

// A relative home (HOME=relhome) is refused, not taken from the work dir.
func TestResolveRelativeHome(t *testing.T) {
	r := Resolver{WorkDir: "/w", Home: func() (string, error) { return "relhome", nil }}
	if got, err := r.Resolve("~/x"); err == nil || !strings.Contains(err.Error(), "not an absolute path") {
		t.Fatalf("Resolve(~/x) = %q, %v", got, err)
	}
}
