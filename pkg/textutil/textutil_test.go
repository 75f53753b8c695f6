package textutil

import "testing"

func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"}, {"exactly10!", 10, "exactly10!"}, {"eleven char", 10, "eleven ch…"},
		{"héllo wörld", 6, "héllo…"}, {"日本語のテキスト", 4, "日本語…"}, {"abc", 0, "…"}, {"", 3, ""},
	} {
		if got := Clip(c.in, c.n); got != c.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := OneLine("  open x:\n\tpermission   denied \n"); got != "open x: permission denied" {
		t.Errorf("OneLine = %q", got)
	}
}
