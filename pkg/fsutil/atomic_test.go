package fsutil

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/servagent/servagent/internal/testutil/roottest"
)

func needRoot(t *testing.T) {
	t.Helper()
	roottest.Need(t, "the test chowns files to other users, as servagent running as root meets them")
}

// onlyEntries fails when dir holds anything but the given names.
func onlyEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	sort.Strings(names)
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}

func TestWriteFileKeepsModeAndOwnerDropsSetuid(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("old"), 0o750)
	if os.Geteuid() == 0 {
		os.Chown(p, 1234, 5678)
	}
	os.Chmod(p, 0o750|os.ModeSetuid|os.ModeSetgid) // after chown, which clears it
	if err := WriteFile(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode() != 0o750 {
		t.Errorf("mode %v, want -rwxr-x--- (setuid and setgid dropped)", fi.Mode())
	}
	if st := fi.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && (st.Uid != 1234 || st.Gid != 5678) {
		t.Errorf("owner %d:%d", st.Uid, st.Gid)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("content %q", b)
	}
	onlyEntries(t, dir, "f")
}

func TestReplaceResult(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("old"), 0o700)
	os.Chmod(p, 0o710|os.ModeSetgid)
	res, err := Replace(p, Options{Perm: 0o600}, func(w io.Writer) error { _, err := w.Write([]byte("x")); return err })
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != p || !res.Replaced || res.Mode != 0o710 || res.Dropped != os.ModeSetgid {
		t.Errorf("result %+v", res)
	}
	res, err = Replace(filepath.Join(dir, "new"), Options{Perm: 0o640}, func(w io.Writer) error { return nil })
	if fi, _ := os.Stat(filepath.Join(dir, "new")); err != nil || res.Replaced || res.Mode != 0o640 || fi.Mode() != 0o640 {
		t.Errorf("new file: %+v %v", res, err)
	}
	// ForceMode (copies) gets Perm, still without setuid.
	res, err = Replace(p, Options{Perm: 0o755 | os.ModeSetuid, ForceMode: true}, func(w io.Writer) error { _, err := w.Write([]byte("x")); return err })
	if fi, _ := os.Stat(p); err != nil || fi.Mode() != 0o755 {
		t.Errorf("force mode: %v %v", fi.Mode(), err)
	}
	// A failing fill leaves the old file and nothing else.
	_, err = Replace(p, Options{}, func(w io.Writer) error { w.Write([]byte("partial")); return errors.New("boom") })
	if b, _ := os.ReadFile(p); err == nil || string(b) != "x" {
		t.Errorf("failed fill: %v, content %q", err, b)
	}
	onlyEntries(t, dir, "f", "new")
}

func TestResolveWriteTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, nil, 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	if got, fi, err := ResolveWriteTarget(link); err != nil || got != target || fi == nil {
		t.Errorf("symlink: %q %v", got, err)
	}
	if got, fi, err := ResolveWriteTarget(filepath.Join(dir, "new")); err != nil || fi != nil || got != filepath.Join(dir, "new") {
		t.Errorf("new file: %q %v", got, err)
	}
	fifo := filepath.Join(dir, "fifo")
	syscall.Mkfifo(fifo, 0o644)
	for _, p := range []string{dir, fifo, "/dev/null"} {
		if _, _, err := ResolveWriteTarget(p); err == nil {
			t.Errorf("%s accepted", p)
		}
	}
}

func TestWriteRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	syscall.Mkfifo(fifo, 0o644)
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cases := map[string]string{fifo: "FIFO", sock: "socket", dir: "directory"}
	want := []string{"fifo", "sock"}
	// A device node of our own: a broken build must not replace /dev/null.
	if os.Geteuid() == 0 {
		dev := filepath.Join(dir, "null")
		if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Fatal(err)
		}
		os.Symlink(dev, filepath.Join(dir, "devlink"))
		cases[dev], cases[filepath.Join(dir, "devlink")] = "device", "device"
		want = append(want, "devlink", "null")
	}
	for p, want := range cases {
		err := WriteFile(p, []byte("x"), 0o644)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", p, err, want)
		}
	}
	if fi, _ := os.Lstat(fifo); fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("FIFO replaced: %v", fi.Mode())
	}
	onlyEntries(t, dir, want...)
}

// sharedDir makes a sticky world-writable directory like /tmp.
func sharedDir(t *testing.T) string { return roottest.SharedDir(t, t.TempDir(), "shared") }

func TestSymlinkRuleInSharedDirectories(t *testing.T) {
	needRoot(t)
	private := t.TempDir()
	secret := filepath.Join(private, "secret")
	os.WriteFile(secret, []byte("root only"), 0o600)
	shared := sharedDir(t)

	roottest.SymlinkAs(t, secret, filepath.Join(shared, "planted"), roottest.Nobody)
	roottest.SymlinkAs(t, private, filepath.Join(shared, "planteddir"), roottest.Nobody)
	for _, p := range []string{filepath.Join(shared, "planted"), filepath.Join(shared, "planteddir", "secret"), filepath.Join(shared, "planteddir", "other")} {
		err := WriteFile(p, []byte("pwned"), 0o644)
		if err == nil || !strings.Contains(err.Error(), "protected_symlinks") || !strings.Contains(err.Error(), "uid 65534") {
			t.Errorf("write through %s: %v, want a refusal naming the rule and the owner", p, err)
		}
		if _, _, err := ResolveWriteTarget(p); err == nil {
			t.Errorf("ResolveWriteTarget(%s) followed the planted link", p)
		}
	}
	if b, _ := os.ReadFile(secret); string(b) != "root only" {
		t.Fatalf("secret overwritten: %q", b)
	}
	onlyEntries(t, private, "secret")
	if fi, err := os.Lstat(filepath.Join(shared, "planted")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("planted link replaced: %v", err)
	}

	// Followed: our own link there; a link owned by the directory's owner;
	// any link in a directory only its owner can write.
	mine := filepath.Join(private, "mine")
	roottest.SymlinkAs(t, mine, filepath.Join(shared, "mine"), 0)
	ownedShared := roottest.SharedDir(t, t.TempDir(), "nobodys")
	os.Chown(ownedShared, roottest.Nobody, roottest.Nobody)
	theirs := filepath.Join(private, "theirs")
	roottest.SymlinkAs(t, theirs, filepath.Join(ownedShared, "link"), roottest.Nobody)
	plain := t.TempDir()
	plainTarget := filepath.Join(private, "plain")
	roottest.SymlinkAs(t, plainTarget, filepath.Join(plain, "link"), roottest.Nobody)
	for _, p := range []string{mine, theirs, plainTarget} {
		os.WriteFile(p, nil, 0o644)
	}
	for link, target := range map[string]string{filepath.Join(shared, "mine"): mine, filepath.Join(ownedShared, "link"): theirs, filepath.Join(plain, "link"): plainTarget} {
		if err := WriteFile(link, []byte("ok"), 0o644); err != nil {
			t.Errorf("%s: %v", link, err)
		} else if b, _ := os.ReadFile(target); string(b) != "ok" {
			t.Errorf("%s: target holds %q", link, b)
		}
	}
}

// A local user swaps a symlink to a setuid-root file in and out of a
// shared directory while root writes there. The old code (stat through the
// path, then rename) produced root-owned setuid files holding the written
// content.
func TestSymlinkSwapRaceNeverYieldsSetuid(t *testing.T) {
	needRoot(t)
	private := t.TempDir()
	suid := filepath.Join(private, "suid")
	os.WriteFile(suid, []byte("original"), 0o755)
	os.Chmod(suid, 0o755|os.ModeSetuid)
	shared := sharedDir(t)
	name := filepath.Join(shared, "victim")

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// The planted link is the other user's; the plain file is
			// root's own, so that in this sticky directory root may write
			// it (a file of the other user's would be refused as well,
			// and the race would never see a write).
			tmp := filepath.Join(shared, fmt.Sprintf("swap%d", i))
			if i%2 == 0 {
				os.Symlink(suid, tmp)
				os.Lchown(tmp, roottest.Nobody, roottest.Nobody)
			} else {
				os.WriteFile(tmp, []byte("root's file"), 0o644)
			}
			os.Rename(tmp, name)
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	writes, refusals := 0, 0
	for time.Now().Before(deadline) {
		err := WriteFile(name, []byte("written by root"), 0o644)
		if err != nil {
			refusals++
		} else {
			writes++
		}
		if fi, err := os.Lstat(name); err == nil && fi.Mode().IsRegular() && fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
			close(stop)
			<-done
			t.Fatalf("after %d writes a %v file sits at %s", writes, fi.Mode(), name)
		}
	}
	close(stop)
	<-done
	if b, _ := os.ReadFile(suid); string(b) != "original" {
		t.Fatalf("the setuid file was written through the symlink: %q", b)
	}
	if fi, _ := os.Stat(suid); fi.Mode()&os.ModeSetuid == 0 {
		t.Fatalf("setuid file changed mode: %v", fi.Mode())
	}
	t.Logf("%d writes, %d refusals", writes, refusals)
	if writes == 0 || refusals == 0 {
		t.Errorf("the race never hit both cases (%d writes, %d refusals)", writes, refusals)
	}
}

// The crash child: writes into a new file and waits to be killed.
func init() {
	dir := os.Getenv("FSUTIL_TEST_CRASH_DIR")
	if dir == "" {
		return
	}
	a, err := CreateAtomic(filepath.Join(dir, "big"), 0o644)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	a.Write(make([]byte, 4<<20))
	fmt.Println("ready")
	time.Sleep(time.Minute)
	os.Exit(2)
}

func TestKilledWriterLeavesNoTempFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "big"), []byte("old"), 0o644)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FSUTIL_TEST_CRASH_DIR="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q", line)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	onlyEntries(t, dir, "big")
	if b, _ := os.ReadFile(filepath.Join(dir, "big")); string(b) != "old" {
		t.Errorf("content %q", b)
	}
}

func TestNextWriteSweepsStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	mk := func(name string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("left over"), 0o600)
		os.Chtimes(p, old, old)
		return p
	}
	mk(".crashed.servagent-123.tmp")
	mk(".other.servagent-9f8e7d.tmp")
	fresh := filepath.Join(dir, ".fresh.servagent-1.tmp")
	os.WriteFile(fresh, nil, 0o600) // being written right now
	locked := mk(".live.servagent-2.tmp")
	lf, _ := os.Open(locked)
	defer lf.Close()
	syscall.Flock(int(lf.Fd()), syscall.LOCK_EX)
	mk("unrelated.tmp")
	os.Mkdir(filepath.Join(dir, ".tree.servagent-3.tmp"), 0o700) // copy_path's temp dirs are not ours to sweep
	want := []string{".fresh.servagent-1.tmp", ".live.servagent-2.tmp", ".tree.servagent-3.tmp"}
	if os.Geteuid() == 0 {
		os.Chown(mk(".someone.servagent-4.tmp"), roottest.Nobody, roottest.Nobody)
		want = append(want, ".someone.servagent-4.tmp")
	}
	if err := WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	onlyEntries(t, dir, append(want, "f", "unrelated.tmp")...)
}

func TestCreateDirsAbortRemovesWhatItCreated(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "kept"), 0o755)
	a, err := Create(filepath.Join(dir, "kept", "a", "b", "f"), Options{CreateDirs: true})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "kept", "a", "b")); err != nil || !fi.IsDir() {
		t.Fatalf("directories not created: %v", err)
	}
	a.Write([]byte("x"))
	a.Abort()
	onlyEntries(t, filepath.Join(dir, "kept"))
	if _, err := Create(filepath.Join(dir, "missing", "f"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing parent without CreateDirs: %v", err)
	}
	onlyEntries(t, dir, "kept")
}

func TestSpoolIsUnnamed(t *testing.T) {
	dir := t.TempDir()
	f, err := Spool(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write([]byte("spooled"))
	f.Seek(0, 0)
	b := make([]byte, 16)
	n, _ := f.Read(b)
	if string(b[:n]) != "spooled" {
		t.Errorf("read back %q", b[:n])
	}
	onlyEntries(t, dir)
}

func TestCopyOptions(t *testing.T) {
	dir := t.TempDir()
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	fill := func(w io.Writer) error { _, err := w.Write([]byte("copy")); return err }
	// A copy of our own setuid file keeps the bit and the source's mtime.
	p := filepath.Join(dir, "own")
	res, err := Replace(p, Options{Perm: 0o755 | os.ModeSetuid, ForceMode: true, CopySetid: true, ModTime: mtime}, fill)
	fi, _ := os.Stat(p)
	if err != nil || fi.Mode() != 0o755|os.ModeSetuid || !fi.ModTime().Equal(mtime) || res.Mode.Perm() != 0o755 {
		t.Errorf("own copy: %v %v %v", fi.Mode(), fi.ModTime(), err)
	}
	if os.Geteuid() != 0 {
		return
	}
	// Replacing another user's file: the copy is theirs, so no setuid.
	other := filepath.Join(dir, "other")
	os.WriteFile(other, nil, 0o644)
	os.Chown(other, roottest.Nobody, roottest.Nobody)
	if _, err := Replace(other, Options{Perm: 0o755 | os.ModeSetuid, ForceMode: true, CopySetid: true}, fill); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Stat(other)
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode() != 0o755 || st.Uid != roottest.Nobody {
		t.Errorf("copy over nobody's file: %v uid %d", fi.Mode(), st.Uid)
	}
	// An explicit Owner (a move as root) keeps owner and bits.
	moved := filepath.Join(dir, "moved")
	if _, err := Replace(moved, Options{Perm: 0o750 | os.ModeSetgid, ForceMode: true, CopySetid: true, Owner: &Owner{UID: 1234, GID: 5678}}, fill); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Stat(moved)
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode() != 0o750|os.ModeSetgid || st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("move: %v %d:%d", fi.Mode(), st.Uid, st.Gid)
	}
}

func TestPlaceLinksOrCopiesTheSpool(t *testing.T) {
	dir := t.TempDir()
	spool, err := Spool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spool.Write([]byte("spooled"))
	var before syscall.Stat_t
	syscall.Fstat(int(spool.Fd()), &before)
	p := filepath.Join(dir, "a", "f")
	res, err := Place(p, Options{Perm: 0o640, CreateDirs: true}, spool)
	if err != nil || res.Path != p || res.Mode != 0o640 {
		t.Fatalf("place: %+v %v", res, err)
	}
	fi, _ := os.Stat(p)
	if st := fi.Sys().(*syscall.Stat_t); st.Ino != before.Ino {
		t.Errorf("same filesystem: the spool was copied (inode %d, spool %d), want it linked", st.Ino, before.Ino)
	}
	if b, _ := os.ReadFile(p); string(b) != "spooled" {
		t.Errorf("content %q", b)
	}
	onlyEntries(t, filepath.Join(dir, "a"), "f")
	if os.Geteuid() != 0 {
		return
	}
	other := filepath.Join(t.TempDir(), "tmpfs")
	os.Mkdir(other, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", other).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs for the cross-filesystem case: %v %s", err, out)
	}
	defer exec.Command("umount", other).Run()
	spool, _ = Spool(dir)
	spool.Write([]byte("across"))
	if _, err := Place(filepath.Join(other, "f"), Options{}, spool); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(other, "f")); string(b) != "across" {
		t.Errorf("cross-filesystem content %q", b)
	}
	onlyEntries(t, other, "f")
}

// A temp name fits in a directory entry whatever the target's length, and
// carries the marks sweep looks for.
func TestTempName(t *testing.T) {
	for _, name := range []string{"f", strings.Repeat("n", 255)} {
		a, b := TempName(name), TempName(name)
		if len(a) > 255 || a == b {
			t.Errorf("TempName(%d bytes) = %q (%d bytes), then %q", len(name), a, len(a), b)
		}
		if !strings.HasPrefix(a, "."+name[:min(len(name), 200)]+tempMark) || !strings.HasSuffix(a, tempSuffix) {
			t.Errorf("TempName(%q) = %q", name, a)
		}
	}
}
