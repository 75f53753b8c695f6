package fsutil

import "testing"

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{`/mnt/my\040disk`: "/mnt/my disk", `/a\134b`: `/a\b`, `/plain`: "/plain", `/end\04`: `/end\04`} {
		if got := UnescapeMount(in); got != want {
			t.Errorf("UnescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}
