package roottest

import (
	"os"
	"testing"
)

// Need skips exactly when the test does not run as root, with its reason.
func TestNeed(t *testing.T) {
	var skipped bool
	t.Run("probe", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Need(t, "the probe")
	})
	if root := os.Geteuid() == 0; skipped == root {
		t.Errorf("euid %d: skipped = %v", os.Geteuid(), skipped)
	}
}
