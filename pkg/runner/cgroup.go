package runner

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/servagent/servagent/pkg/fsutil"
)

// cgroup2Magic is CGROUP2_SUPER_MAGIC, the f_type of a cgroup v2 mount.
const cgroup2Magic = 0x63677270

// selfLeaf is the child cgroup servagent moves itself into: cgroup v2 lets a
// cgroup with controllers enabled have either processes or children, never
// both ("no internal processes"), so the commands' cgroups are its siblings.
const selfLeaf = "servagent"

// cmdPrefix names the per-command cgroups, so leftovers of a previous run
// can be recognised and swept.
const cmdPrefix = "cmd-"

// Cgroups puts each command in its own cgroup v2 below one directory, so a
// command and everything it starts (setsid and double-forked daemons
// included) are ended together through cgroup.kill.
type Cgroups struct {
	dir string
	seq atomic.Uint64
	// selfJoin: the child writes itself into its cgroup before exec instead
	// of being cloned into it; systemd's RestrictNamespaces= answers clone3
	// with ENOSYS (it cannot filter the flags clone3 passes in memory).
	selfJoin atomic.Bool
}

// OpenCgroups uses dir, a writable cgroup v2 directory, as the parent of the
// commands' cgroups. It checks that the kernel has cgroup.kill (5.14+).
func OpenCgroups(dir string) (*Cgroups, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", dir, err)
	}
	if st.Type != cgroup2Magic {
		return nil, fmt.Errorf("%s is not on a cgroup v2 file system", dir)
	}
	cg := &Cgroups{dir: dir}
	probe := filepath.Join(dir, cmdPrefix+"probe-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("cgroup %s is not writable: %w", dir, err)
	}
	defer syscall.Rmdir(probe)
	if _, err := os.Stat(filepath.Join(probe, "cgroup.kill")); err != nil {
		return nil, fmt.Errorf("cgroup %s: no cgroup.kill (Linux 5.14 or later needed)", dir)
	}
	return cg, nil
}

// Dir is the cgroup the commands' cgroups are created in.
func (c *Cgroups) Dir() string { return c.dir }

// DelegatedCgroups detects a cgroup v2 subtree delegated to this process
// (systemd's Delegate=yes: the cgroup carries the trusted.delegate or
// user.delegate attribute, or was handed to this non-root user), moves the
// process into its leaf <own>/servagent, sweeps command cgroups left by a
// previous run and returns Cgroups rooted at <own>. Without delegation it
// returns an error that says why, and commands use process groups only.
func DelegatedCgroups() (*Cgroups, error) {
	own, err := ownCgroup()
	if err != nil {
		return nil, err
	}
	if filepath.Base(own) == selfLeaf {
		own = filepath.Dir(own) // restarted in-process, or already moved
	}
	if !delegated(own) {
		return nil, fmt.Errorf("cgroup %s is not delegated to servagent (systemd Delegate=yes)", own)
	}
	if err := syscall.Access(filepath.Join(own, "cgroup.procs"), 2 /* W_OK */); err != nil {
		return nil, fmt.Errorf("cgroup %s is not writable: %w", own, err)
	}
	leaf := filepath.Join(own, selfLeaf)
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("creating cgroup %s: %w", leaf, err)
	}
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		return nil, fmt.Errorf("moving servagent into cgroup %s: %w", leaf, err)
	}
	cg, err := OpenCgroups(own)
	if err != nil {
		return nil, err
	}
	cg.sweep()
	return cg, nil
}

// ownCgroup returns the directory of this process's cgroup v2.
func ownCgroup() (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	var rel string
	found := false
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			rel, found = p, true
		}
	}
	if !found {
		return "", errors.New("no cgroup v2 membership in /proc/self/cgroup")
	}
	mnt, root, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	if root != "/" {
		rel = strings.TrimPrefix(rel, root)
	}
	return filepath.Join(mnt, rel), nil
}

// cgroup2Mount finds the cgroup v2 mount point (/sys/fs/cgroup, or
// /sys/fs/cgroup/unified on a hybrid system) and the cgroup it shows.
func cgroup2Mount() (mnt, root string, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		fields := strings.Fields(pre)
		if len(fields) >= 5 {
			return fsutil.UnescapeMount(fields[4]), fsutil.UnescapeMount(fields[3]), nil
		}
	}
	return "", "", errors.New("no cgroup v2 file system mounted")
}

// delegated reports whether systemd delegated dir to this process.
func delegated(dir string) bool {
	for _, attr := range []string{"trusted.delegate", "user.delegate"} {
		buf := make([]byte, 8)
		if n, err := syscall.Getxattr(dir, attr, buf); err == nil && string(buf[:n]) == "1" {
			return true
		}
	}
	// systemd chowns a delegated cgroup to the unit's non-root User=.
	var st syscall.Stat_t
	uid := os.Geteuid()
	return uid != 0 && syscall.Stat(dir, &st) == nil && int(st.Uid) == uid
}

// sweep ends and removes command cgroups a previous run left behind.
func (c *Cgroups) sweep() {
	entries, _ := os.ReadDir(c.dir)
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), cmdPrefix) {
			g := &cgroup{path: filepath.Join(c.dir, e.Name())}
			g.kill()
			g.remove(time.Second)
		}
	}
}

// cgroup is one command's cgroup.
type cgroup struct {
	path string
}

// newCgroup creates the next command cgroup.
func (c *Cgroups) newCgroup() (*cgroup, error) {
	p := filepath.Join(c.dir, fmt.Sprintf("%s%d-%d", cmdPrefix, os.Getpid(), c.seq.Add(1)))
	if err := os.Mkdir(p, 0o755); err != nil {
		return nil, fmt.Errorf("creating cgroup for the command: %w", err)
	}
	return &cgroup{path: p}, nil
}

// signal sends sig to every process in the cgroup (setsid ones included).
func (g *cgroup) signal(sig syscall.Signal) {
	data, err := os.ReadFile(filepath.Join(g.path, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range bytes.Fields(data) {
		if pid, err := strconv.Atoi(string(f)); err == nil && pid > 0 {
			syscall.Kill(pid, sig)
		}
	}
}

// kill SIGKILLs every process of the cgroup at once, forks in flight included.
func (g *cgroup) kill() {
	os.WriteFile(filepath.Join(g.path, "cgroup.kill"), []byte("1"), 0)
}

// populated reports whether any process is still in the cgroup.
func (g *cgroup) populated() bool {
	data, err := os.ReadFile(filepath.Join(g.path, "cgroup.events"))
	if err != nil {
		return false
	}
	return bytes.Contains(data, []byte("populated 1"))
}

// remove deletes the cgroup once it is empty, waiting up to wait for killed
// processes to be reaped. It reports whether the cgroup is gone.
func (g *cgroup) remove(wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Rmdir(g.path)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return true
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// selfJoinArgv wraps argv so the child moves itself into the cgroup before
// it execs the command: nothing it starts can be outside the cgroup.
func (g *cgroup) selfJoinArgv(argv []string) []string {
	return append([]string{"/bin/sh", "-c", `echo 0 >"$0" || exit 126; exec "$@"`, filepath.Join(g.path, "cgroup.procs")}, argv...)
}
