package textedit

import (
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	for _, tc := range []struct {
		name, text, old, new string
		n                    int
		want                 string
	}{
		{name: "one line", text: "a\nb\nc\n", old: "b", new: "B", n: 1,
			want: "--- f\n+++ f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
		{name: "context is three lines", text: "1\n2\n3\n4\n5\n6\n7\n8\n9\n", old: "5", new: "five", n: 1,
			want: "--- f\n+++ f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"},
		{name: "no newline at end", text: "x\ny", old: "y", new: "z", n: 1,
			want: "--- f\n+++ f\n@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+z\n\\ No newline at end of file\n"},
		{name: "added lines shift the new start", text: "a\nb\n" + strings.Repeat("-\n", 10) + "b\n", old: "b\n", new: "b\nb2\n", n: 2,
			want: "--- f\n+++ f\n@@ -1,5 +1,6 @@\n a\n-b\n+b\n+b2\n -\n -\n -\n@@ -10,4 +11,5 @@\n -\n -\n -\n-b\n+b\n+b2\n"},
		{name: "near hunks merge", text: "a\nx\nb\nx\nc\n", old: "x", new: "y", n: 2,
			want: "--- f\n+++ f\n@@ -1,5 +1,5 @@\n a\n-x\n+y\n b\n-x\n+y\n c\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			UnifiedDiff(&b, "f", tc.text, tc.old, tc.new, tc.n)
			if b.String() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), tc.want)
			}
		})
	}
}

func TestNearMatches(t *testing.T) {
	text := "func main() {\n\tfmt.Println(\"hello\")\n}\n\nfunc other() {}\n"
	for _, tc := range []struct {
		name, old string
		want      []string // fragments, in order
		empty     bool
	}{
		{name: "indentation only", old: "    fmt.Println(\"hello\")", want: []string{"line 2 (100% similar)"}},
		{name: "typo", old: "fmt.Printn(\"hello\")", want: []string{"line 2 ("}},
		{name: "first non-blank line is used", old: "\n\nfunc mian() {", want: []string{"line 1 ("}},
		{name: "nothing close", old: "zzzzqqqq", empty: true},
		{name: "blank needle", old: "\n  \n", empty: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NearMatches(text, tc.old, 3)
			if tc.empty != (got == "") {
				t.Fatalf("got %q", got)
			}
			rest := got
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("%q lacks %q (in order)", got, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
