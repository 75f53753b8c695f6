package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/tools"
)

// TestReadmeDocumentsEverySettingAndTool keeps the README honest: every
// variable and every tool the binary knows is named there, and the README
// still opens with the two commands a newcomer needs.
func TestReadmeDocumentsEverySettingAndTool(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, v := range config.Vars {
		if !strings.Contains(readme, "`"+v.Name+"`") {
			t.Errorf("README does not document %s", v.Name)
		}
	}
	for _, n := range tools.Names() {
		if !strings.Contains(readme, "`"+n+"`") {
			t.Errorf("README does not document tool %s", n)
		}
	}
	head := readme[:min(len(readme), 1500)]
	for _, cmd := range []string{"go run ./cmd/servagent serve", "make test"} {
		if !strings.Contains(head, cmd) {
			t.Errorf("README does not open with %q", cmd)
		}
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil || !strings.Contains(string(ci), "\nmake test\n") {
		t.Errorf(".ci/run must run the README's test command (make test)")
	}
}
