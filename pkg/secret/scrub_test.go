package secret

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestScrubHelper is the process TestScrub starts: it scrubs two secrets,
// reports what it and a child of its see, then waits on stdin so that the
// test can read its /proc/<pid>/environ from outside.
func TestScrubHelper(t *testing.T) {
	if os.Getenv("SECRET_SCRUB_HELPER") != "1" {
		t.Skip("helper process of TestScrub")
	}
	if err := Scrub([]string{"S_KEY", "S_EMPTY", "S_ABSENT"}); err != nil {
		fmt.Println("scrub error:", err)
		os.Exit(3)
	}
	child, _ := exec.Command("sh", "-c", `echo "child=[${S_KEY-unset}][${S_EMPTY-unset}][$S_OTHER]"`).Output()
	_, key := os.LookupEnv("S_KEY")
	fmt.Printf("go_env_has_key=%v %s", key, child)
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(0)
}

// TestScrub checks, from outside the process as a tool would, that the
// scrubbed variables are gone from /proc/<pid>/environ, that the others
// stay, and that neither the Go environment nor a child keeps them.
func TestScrub(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestScrubHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SECRET_SCRUB_HELPER=1", "S_KEY=k=v secret", "S_EMPTY=", "S_OTHER=kept")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "ready" {
		out.WriteString(sc.Text() + "\n")
	}
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"k=v secret", "S_KEY", "S_EMPTY"} {
		if strings.Contains(string(environ), bad) {
			t.Errorf("/proc/<pid>/environ still holds %q", bad)
		}
	}
	if !strings.Contains(string(environ), "\x00S_OTHER=kept\x00") && !strings.HasPrefix(string(environ), "S_OTHER=kept\x00") {
		t.Errorf("/proc/<pid>/environ lost S_OTHER: %q", environ)
	}
	for _, want := range []string{"go_env_has_key=false", "child=[unset][unset][kept]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("helper output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestScrubWithNothingToScrub leaves the block as it is.
func TestScrubWithNothingToScrub(t *testing.T) {
	before, _ := os.ReadFile("/proc/self/environ")
	if err := Scrub([]string{"SECRET_TEST_SURELY_UNSET"}); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile("/proc/self/environ"); string(after) != string(before) {
		t.Error("the environment block changed")
	}
}
