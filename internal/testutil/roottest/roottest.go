// Package roottest is for the tests that need root: the ones that give
// files to another local user (uid 65534, nobody) and check what
// servagent, running as root, does with them.
package roottest

import (
	"os"
	"testing"
)

// Nobody is the uid and gid of the other user those tests play.
const Nobody = 65534

// Need skips the test unless it runs as root; why says what root is for,
// so the skip tells a reader what was not tested.
func Need(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
}
