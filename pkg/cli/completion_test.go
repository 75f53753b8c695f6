package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestCommittedCompletionsAreCurrent regenerates the shell completions and
// compares them with completions/ (run `make completions` after changing
// commands or flags).
func TestCommittedCompletionsAreCurrent(t *testing.T) {
	for shell, file := range map[string]string{"bash": "servagent.bash", "zsh": "_servagent", "fish": "servagent.fish"} {
		var out bytes.Buffer
		if code := Run(context.Background(), []string{"completion", shell}, IO{In: strings.NewReader(""), Out: &out, ErrOut: &out}); code != 0 {
			t.Fatalf("completion %s: exit %d: %s", shell, code, out.String())
		}
		want, err := os.ReadFile("../../completions/" + file)
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != string(want) {
			t.Errorf("completions/%s is stale: run make completions", file)
		}
	}
	var errOut bytes.Buffer
	if code := Run(context.Background(), []string{"completion", "tcsh"}, IO{In: strings.NewReader(""), Out: &errOut, ErrOut: &errOut}); code == 0 {
		t.Error("an unknown shell should fail")
	}
}

func TestVersionPrintsVersionCommitDate(t *testing.T) {
	var out bytes.Buffer
	if code := Run(context.Background(), []string{"version"}, IO{In: strings.NewReader(""), Out: &out, ErrOut: &out}); code != 0 {
		t.Fatal(out.String())
	}
	for _, want := range []string{"servagent ", "commit ", "built "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version output %q lacks %q", out.String(), want)
		}
	}
}
