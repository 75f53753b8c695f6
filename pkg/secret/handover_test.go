package secret

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestHandoverHelper is the process TestHandover starts: it hands its
// secrets over (re-executing itself, which runs this test again) and, in the
// new image, reports what it received and what its environment block holds.
func TestHandoverHelper(t *testing.T) {
	if os.Getenv("SECRET_HANDOVER_HELPER") != "1" {
		t.Skip("helper process of TestHandover")
	}
	got, err := Received()
	if err != nil {
		fmt.Println("received error:", err)
		os.Exit(3)
	}
	if got == nil {
		if err := Handover([]string{"S_KEY", "S_EMPTY", "S_ABSENT"}); err != nil {
			fmt.Println("handover error:", err)
			os.Exit(4)
		}
		fmt.Println("nothing to hand over")
		os.Exit(5)
	}
	environ, _ := os.ReadFile("/proc/self/environ")
	fmt.Printf("pid=%d key=%q empty=%q/%v absent=%v marker_left=%v\n", os.Getpid(), got["S_KEY"], got["S_EMPTY"],
		hasKey(got, "S_EMPTY"), hasKey(got, "S_ABSENT"), os.Getenv(HandoverFDVar) != "")
	fmt.Printf("environ_has_secret=%v other=%v\n", strings.Contains(string(environ), "k=v secret"), strings.Contains(string(environ), "S_OTHER=kept"))
	os.Exit(0)
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// TestHandover runs the helper with two secrets (one empty, which still
// overrides a .env value) and checks the re-executed image got them, kept
// its pid, and holds none of them in /proc/self/environ.
func TestHandover(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHandoverHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SECRET_HANDOVER_HELPER=1", "S_KEY=k=v secret", "S_EMPTY=", "S_OTHER=kept")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		fmt.Sprintf("pid=%d ", pid), `key="k=v secret"`, `empty=""/true`, "absent=false", "marker_left=false",
		"environ_has_secret=false", "other=true",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("helper output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestHandoverWithNothingToHandOver returns without re-executing.
func TestHandoverWithNothingToHandOver(t *testing.T) {
	if err := Handover([]string{"SECRET_TEST_SURELY_UNSET"}); err != nil {
		t.Fatal(err)
	}
}
