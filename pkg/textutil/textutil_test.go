package textutil

import (
	"strings"
	"testing"
	"unicode/utf8"
)

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

func TestClipBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"}, {"exactly10!", 10, "exactly10!"}, {"eleven char", 10, "eleven cha…"}, {"", 3, ""},
		{"abc", 0, "…"}, {"abc", -1, "…"}, {"", -1, ""},
		{"héllo", 2, "h…"}, {"héllo", 3, "hé…"}, // é is 2 bytes: never half of it
		{"a€b", 2, "a…"}, {"a€b", 3, "a…"}, {"a€b", 4, "a€…"}, // € is 3 bytes
		{"a😀b", 4, "a…"}, {"a😀b", 5, "a😀…"}, // 😀 is 4 bytes
		{"😀😀", 3, "…"},
		// Not UTF-8: continuation bytes with no start are cut where n says.
		{"\x80\x80\x80\x80\x80\x80", 5, "\x80\x80\x80\x80\x80…"}, {"ab\xff\xfecd", 3, "ab\xff…"},
	} {
		if got := ClipBytes(c.in, c.n); got != c.want {
			t.Errorf("ClipBytes(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
	// Every cut of valid text is a valid prefix of at most n bytes.
	s := "añ€😀z日本"
	for n := range len(s) + 2 {
		got := ClipBytes(s, n)
		kept := strings.TrimSuffix(got, "…")
		if len(kept) > n || !strings.HasPrefix(s, kept) || !utf8.ValidString(got) || (kept != s) != (got != kept) {
			t.Errorf("ClipBytes(%q, %d) = %q", s, n, got)
		}
	}
}

// ClipBytesSized cuts like ClipBytes and says the full size; CutBytes is
// the bare cut.
func TestClipBytesSized(t *testing.T) {
	for _, c := range []struct {
		in        string
		n         int
		want, cut string
	}{
		{"short", 10, "short", "short"},
		{"exactly10!", 10, "exactly10!", "exactly10!"},
		{"eleven char", 10, "eleven cha…(11 bytes)", "eleven cha"},
		{"aéé", 2, "a…(5 bytes)", "a"},   // 'é' is 2 bytes: not split
		{"aéé", 3, "aé…(5 bytes)", "aé"}, // the cut falls between runes
		{"日本語", 4, "日…(9 bytes)", "日"},
		{"日本語", 2, "…(9 bytes)", ""},
		{"abc", -1, "…(3 bytes)", ""},
	} {
		if got := ClipBytesSized(c.in, c.n); got != c.want {
			t.Errorf("ClipBytesSized(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
		if got := CutBytes(c.in, c.n); got != c.cut {
			t.Errorf("CutBytes(%q, %d) = %q, want %q", c.in, c.n, got, c.cut)
		}
	}
}
