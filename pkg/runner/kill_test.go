package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gone reports whether pid has exited (a zombie waiting for init counts).
func gone(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(data, ')')
	return i > 0 && i+2 < len(data) && data[i+2] == 'Z'
}

// waitGone waits up to 3 s for every pid to exit.
func waitGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for _, pid := range pids {
		for !gone(pid) {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("pid %d survived (%s)", pid, cmdline(pid))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
}

// readPids reads the whitespace-separated pids a script wrote to path.
func readPids(t *testing.T, path string, want int) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pid file: %q", data)
		}
		pids = append(pids, pid)
	}
	if len(pids) != want {
		t.Fatalf("want %d pids, got %q", want, data)
	}
	return pids
}

// The process-group fallback (no cgroup): background, nohup'd and
// TERM-ignoring children all die on the timeout.
func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	r := New()
	r.Grace = 300 * time.Millisecond
	pidfile := filepath.Join(t.TempDir(), "pids")
	script := `sleep 300 & echo $! >>` + pidfile + `
nohup sleep 301 >/dev/null 2>&1 & echo $! >>` + pidfile + `
(trap '' TERM; exec sleep 302) & echo $! >>` + pidfile + `
echo ready; wait`
	var out bytes.Buffer
	res, err := r.Run(context.Background(), Cmd{Script: script, Stdout: &out, Timeout: 500 * time.Millisecond})
	if err != nil || !res.TimedOut {
		t.Fatalf("%v %+v", err, res)
	}
	waitGone(t, readPids(t, pidfile, 3))
}

// Without a cgroup, setsid leaves the process group and survives: the limit
// the README states for servers without a delegated cgroup.
func TestSetsidEscapesTheProcessGroupWithoutACgroup(t *testing.T) {
	r := New()
	r.Grace = 200 * time.Millisecond
	pidfile := filepath.Join(t.TempDir(), "pids")
	res, err := r.Run(context.Background(), Cmd{Script: `setsid sleep 303 & echo $! >` + pidfile + `; sleep 300`, Timeout: 300 * time.Millisecond})
	if err != nil || !res.TimedOut {
		t.Fatalf("%v %+v", err, res)
	}
	pid := readPids(t, pidfile, 1)[0]
	time.Sleep(200 * time.Millisecond)
	if gone(pid) {
		t.Fatal("setsid child died without a cgroup: the fallback is stronger than documented; update the README")
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// testCgroups creates a cgroup v2 directory of its own below this process's
// cgroup (root on cgroup v2 can: it delegates to itself) or skips with why.
func testCgroups(t *testing.T) *Cgroups {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a cgroup v2 subtree (the systemd container test covers the delegated service)")
	}
	own, err := ownCgroup()
	if err != nil {
		t.Skipf("no cgroup v2 here: %v", err)
	}
	dir, err := os.MkdirTemp(own, "servagent-test-")
	if err != nil {
		t.Skipf("cannot create a cgroup below %s: %v", own, err)
	}
	t.Cleanup(func() {
		(&Cgroups{dir: dir}).sweep()
		if err := syscall.Rmdir(dir); err != nil {
			t.Errorf("test cgroup left behind: %v", err)
		}
	})
	cg, err := OpenCgroups(dir)
	if err != nil {
		t.Skipf("cgroup %s unusable: %v", dir, err)
	}
	return cg
}

func testSetsidDiesInCgroup(t *testing.T, selfJoin bool) {
	cg := testCgroups(t)
	cg.selfJoin.Store(selfJoin)
	r := New()
	r.Grace = 200 * time.Millisecond
	r.Cgroups = cg
	tmp := t.TempDir()
	pidfile := filepath.Join(tmp, "pids")
	var out bytes.Buffer
	res, err := r.Run(context.Background(), Cmd{
		Script:  `cat /proc/self/cgroup; setsid sleep 304 & echo $! >` + pidfile + `; (trap '' TERM; setsid sleep 305 & echo $! >>` + pidfile + `); sleep 300`,
		Stdout:  &out,
		Timeout: 500 * time.Millisecond,
	})
	if err != nil || !res.TimedOut {
		t.Fatalf("%v %+v", err, res)
	}
	if !strings.Contains(out.String(), "/"+filepath.Base(cg.Dir())+"/"+cmdPrefix) {
		t.Errorf("command not in its own cgroup below %s: %q", cg.Dir(), out.String())
	}
	waitGone(t, readPids(t, pidfile, 2))
	entries, _ := os.ReadDir(cg.Dir())
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("command cgroup %s not removed", e.Name())
		}
	}
}

func TestCgroupKillsSetsidGrandchildren(t *testing.T) { testSetsidDiesInCgroup(t, false) }

// The path taken under systemd's RestrictNamespaces=, where clone3 fails.
func TestCgroupSelfJoinKillsSetsidGrandchildren(t *testing.T) { testSetsidDiesInCgroup(t, true) }

// A shell that exits normally leaves `setsid daemon &` running (as without
// a cgroup); Shutdown then ends it and removes its cgroup.
func TestShutdownEndsLingeringCgroups(t *testing.T) {
	cg := testCgroups(t)
	r := New()
	r.Grace = 200 * time.Millisecond
	r.Cgroups = cg
	pidfile := filepath.Join(t.TempDir(), "pids")
	res, err := r.Run(context.Background(), Cmd{Script: `setsid sleep 306 >/dev/null 2>&1 & echo $! >` + pidfile})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	pid := readPids(t, pidfile, 1)[0]
	if gone(pid) {
		t.Fatal("the daemon died with its shell")
	}
	r.Shutdown()
	waitGone(t, []int{pid})
	entries, _ := os.ReadDir(cg.Dir())
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("cgroup %s left after Shutdown", e.Name())
		}
	}
}

func TestOpenCgroupsRefusesANonCgroupDirectory(t *testing.T) {
	_, err := OpenCgroups(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "not on a cgroup v2") {
		t.Fatalf("got %v", err)
	}
}

func TestDelegatedCgroupsSaysWhyNot(t *testing.T) {
	own, err := ownCgroup()
	if err != nil {
		t.Skipf("no cgroup v2: %v", err)
	}
	if delegated(own) {
		t.Skip("this process runs in a delegated cgroup: DelegatedCgroups would move it")
	}
	_, err = DelegatedCgroups()
	if err == nil || !strings.Contains(err.Error(), "not delegated") {
		t.Fatalf("got %v", err)
	}
}
