// Package fsutil is the one way servagent writes a file as root: resolve
// the target without trusting paths that others can change, write the new
// content next to it in a file no one else can see, give it the replaced
// file's owner and mode (never setuid or setgid), fsync it, rename it into
// place and fsync the directory. A crash leaves the old content or the new,
// never a mix; with O_TMPFILE it also leaves no temp file behind.
package fsutil

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Options say how Create and Replace treat the target.
type Options struct {
	// Perm is the mode of a file that did not exist (0 means 0644). Setuid
	// and setgid are never set.
	Perm os.FileMode
	// ForceMode applies Perm to a replaced file too, instead of keeping the
	// replaced file's mode (copies take their source's mode).
	ForceMode bool
	// CreateDirs creates missing parent directories (0755). Abort, and a
	// failed Commit, remove the ones this call created.
	CreateDirs bool
	// Owner, when set, is the owner the new content gets (as root) instead
	// of the replaced file's: a moved file keeps its own.
	Owner *Owner
	// ModTime, when not zero, is the new content's modification time.
	ModTime time.Time
	// CopySetid applies Perm's setuid/setgid bits (with ForceMode): the file
	// is a copy of a setuid file, not new content. They are kept only when
	// the copy ends up owned by Owner or by servagent's own user.
	CopySetid bool

	// named skips O_TMPFILE, as on a filesystem without it (tests).
	named bool
}

// Owner is a file owner.
type Owner struct{ UID, GID int }

// Result describes a committed write.
type Result struct {
	Path     string      // the file written: a followed symlink's target
	Replaced bool        // a file existed there before
	Mode     os.FileMode // the permission bits it got
	// Dropped holds the setuid/setgid bits the replaced file had and the new
	// content did not get.
	Dropped os.FileMode
}

// AtomicFile is new content for Path, invisible until Commit. Name()
// returns a path that opens the content while the file is open, also for
// another root process (a validator such as visudo).
type AtomicFile struct {
	*os.File
	Path string

	loc    *location
	opt    Options
	old    *unix.Stat_t // the file being replaced, nil if none
	named  string       // the temp file's name in loc.dir when O_TMPFILE is unavailable
	done   bool
	Result Result

	written, flushed int64 // bytes written through Write, and handed to writeback
}

// writebackChunk is how much new content Write lets pile up before it asks
// the kernel to start writing it out, so Commit's fsync waits for the tail
// only instead of the whole file.
const writebackChunk = 8 << 20

// Write writes to the new content and starts writeback of every full chunk.
func (a *AtomicFile) Write(b []byte) (int, error) {
	n, err := a.File.Write(b)
	a.written += int64(n)
	if a.written-a.flushed >= writebackChunk {
		unix.SyncFileRange(int(a.File.Fd()), a.flushed, a.written-a.flushed, unix.SYNC_FILE_RANGE_WRITE)
		a.flushed = a.written
	}
	return n, err
}

// Create resolves path (see the package rules), refuses directories and
// special files, sweeps stale temp files of ours from the directory and
// opens the new content there. The caller must call Commit or Abort.
func Create(path string, opt Options) (*AtomicFile, error) {
	a, err := prepare(path, opt)
	if err != nil {
		return nil, err
	}
	f, named, err := openTemp(a.loc, opt.named)
	if err != nil {
		a.cleanup()
		return nil, fmt.Errorf("cannot create a file in %s: %w", a.loc.dirPath, err)
	}
	a.File, a.named = f, named
	return a, nil
}

// prepare resolves the target, reads what it replaces and sweeps the
// directory: everything Create does but opening the new content.
func prepare(path string, opt Options) (*AtomicFile, error) {
	loc, err := resolve(filepath.Clean(path), opt.CreateDirs)
	if err != nil {
		return nil, err
	}
	a := &AtomicFile{Path: loc.path(), loc: loc, opt: opt}
	if loc.st != nil {
		st, err := statNoFollow(loc)
		if err != nil {
			a.cleanup()
			return nil, err
		}
		if st != nil {
			if err := checkRegular(a.Path, st); err != nil {
				a.cleanup()
				return nil, err
			}
			if err := loc.checkForeignFile(st); err != nil {
				a.cleanup()
				return nil, err
			}
			a.old = st
		}
	}
	sweep(loc.dir)
	return a, nil
}

// Place puts content, an unnamed file from Spool, at path under the same
// rules as Replace. On the target's filesystem the file itself is linked
// into place (no copy); elsewhere it is copied into a new file there. It
// takes ownership of content and closes it.
func Place(path string, opt Options, content *os.File) (Result, error) {
	a, err := prepare(path, opt)
	if err != nil {
		content.Close()
		return Result{}, err
	}
	if tmp, ok := a.adopt(content); ok {
		a.File, a.named = content, tmp
	} else {
		f, named, err := openTemp(a.loc, opt.named)
		if err == nil {
			a.File, a.named = f, named
			if _, err = content.Seek(0, io.SeekStart); err == nil {
				_, err = io.Copy(f, content)
			}
		}
		content.Close()
		if err != nil {
			if a.File != nil {
				a.Abort()
			} else {
				a.cleanup()
			}
			return Result{}, fmt.Errorf("copying into %s: %w", a.loc.dirPath, err)
		}
	}
	if err := a.Commit(); err != nil {
		return Result{}, err
	}
	return a.Result, nil
}

// adopt links content under a temp name in the target directory when both
// are on one filesystem and content is an O_TMPFILE (linkat refuses any
// other unlinked file).
func (a *AtomicFile) adopt(content *os.File) (string, bool) {
	var cst, dst unix.Stat_t
	fd := int(content.Fd())
	if unix.Fstat(fd, &cst) != nil || unix.Fstat(a.loc.dir, &dst) != nil || cst.Dev != dst.Dev || cst.Nlink != 0 {
		return "", false
	}
	unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) // sweep must leave the temp name alone
	tmp, err := a.link(fd)
	return tmp, err == nil
}

// statNoFollow reads the type, mode and owner of the file about to be
// replaced from a descriptor opened without following a symlink, so the
// figures belong to the file the rename replaces. nil: it is gone.
func statNoFollow(loc *location) (*unix.Stat_t, error) {
	fd, err := unix.Openat(loc.dir, loc.name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: loc.path(), Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: loc.path(), Err: err}
	}
	return &st, nil
}

// openTemp opens an unnamed file in the directory (O_TMPFILE) or, where the
// filesystem lacks it, a named one (.NAME.servagent-RANDOM.tmp). Either is
// locked (flock) while we hold it, which is how sweep tells ours from a
// crashed writer's.
func openTemp(loc *location, forceNamed bool) (*os.File, string, error) {
	var fd int
	var err error = unix.EOPNOTSUPP
	if !forceNamed {
		fd, err = unix.Openat(loc.dir, ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	}
	named := ""
	if err != nil {
		if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EINVAL) {
			return nil, "", err
		}
		for range 100 {
			named = TempName(loc.name)
			fd, err = unix.Openat(loc.dir, named, unix.O_CREAT|unix.O_EXCL|unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
			if !errors.Is(err, unix.EEXIST) {
				break
			}
		}
		if err != nil {
			return nil, "", err
		}
	}
	unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	return os.NewFile(uintptr(fd), fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd)), named, nil
}

// TempName is .NAME.servagent-RANDOM.tmp, NAME cut so the whole fits in 255
// bytes: the name of a file (or, for copy_path, a symlink or a tree) built
// next to NAME before it is renamed over it.
func TempName(name string) string {
	if len(name) > 200 {
		name = name[:200]
	}
	var b [8]byte
	rand.Read(b[:])
	return "." + name + tempMark + hex.EncodeToString(b[:]) + tempSuffix
}

const (
	tempMark   = ".servagent-"
	tempSuffix = ".tmp"
)

// SetMode makes Commit apply m (its permission and sticky bits) even when a
// file is replaced; the replaced file's owner is still kept.
func (a *AtomicFile) SetMode(m os.FileMode) {
	a.opt.Perm, a.opt.ForceMode = m, true
}

// mode is what the new content gets: the replaced file's bits or Perm,
// without setuid and setgid.
func (a *AtomicFile) mode(ownerOK bool) (mode uint32, dropped os.FileMode) {
	if a.old != nil && !a.opt.ForceMode {
		m := a.old.Mode & 0o7777
		if m&unix.S_ISUID != 0 {
			dropped |= os.ModeSetuid
		}
		if m&unix.S_ISGID != 0 {
			dropped |= os.ModeSetgid
		}
		return m &^ (unix.S_ISUID | unix.S_ISGID), dropped
	}
	p := a.opt.Perm
	if p == 0 {
		p = 0o644
	}
	mode = uint32(p.Perm())
	if p&os.ModeSticky != 0 {
		mode |= unix.S_ISVTX
	}
	if a.opt.CopySetid && a.opt.ForceMode && ownerOK {
		if p&os.ModeSetuid != 0 {
			mode |= unix.S_ISUID
		}
		if p&os.ModeSetgid != 0 {
			mode |= unix.S_ISGID
		}
	}
	return mode, 0
}

// owner is who the new content will belong to (-1: its creator, us).
func (a *AtomicFile) owner() (uid, gid int) {
	switch {
	case os.Geteuid() != 0:
		return -1, -1
	case a.opt.Owner != nil:
		return a.opt.Owner.UID, a.opt.Owner.GID
	case a.old != nil:
		return int(a.old.Uid), int(a.old.Gid)
	}
	return -1, -1
}

// Commit flushes the content, gives it the owner then the mode (chown
// would clear setuid otherwise; we never set it anyway), renames it over
// Path and fsyncs the directory.
func (a *AtomicFile) Commit() error {
	if a.done {
		return errors.New("atomic file already committed or aborted")
	}
	a.done = true
	if err := a.commit(); err != nil {
		a.File.Close()
		if a.named != "" {
			unix.Unlinkat(a.loc.dir, a.named, 0)
		}
		a.loc.removeCreated()
		a.loc.close()
		return fmt.Errorf("saving %s: %w", a.Path, err)
	}
	return nil
}

func (a *AtomicFile) commit() error {
	fd := int(a.File.Fd())
	uid, gid := a.owner()
	ours := uid == -1 || uid == os.Geteuid() && gid == os.Getegid()
	mode, dropped := a.mode(a.opt.Owner != nil || ours)
	if uid != -1 {
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return err
		}
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return err
	}
	if !a.opt.ModTime.IsZero() {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(a.opt.ModTime.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), ts, 0); err != nil {
			return err
		}
	}
	if err := unix.Fsync(fd); err != nil {
		return err
	}
	tmp := a.named
	if tmp == "" {
		var err error
		if tmp, err = a.link(fd); err != nil {
			return err
		}
	}
	if err := unix.Renameat(a.loc.dir, tmp, a.loc.dir, a.loc.name); err != nil {
		unix.Unlinkat(a.loc.dir, tmp, 0)
		return err
	}
	a.named = ""
	syncDir(a.loc.dir)
	a.Result = Result{Path: a.Path, Replaced: a.old != nil, Mode: os.FileMode(mode & 0o777), Dropped: dropped}
	if mode&unix.S_ISVTX != 0 {
		a.Result.Mode |= os.ModeSticky
	}
	err := a.File.Close()
	a.loc.close()
	return err
}

// link gives the unnamed content a temp name in its directory, the step
// before the rename (linkat cannot replace an existing name).
func (a *AtomicFile) link(fd int) (string, error) {
	var err error
	for range 100 {
		tmp := TempName(a.loc.name)
		err = unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), a.loc.dir, tmp, unix.AT_SYMLINK_FOLLOW)
		if errors.Is(err, unix.ENOENT) { // no /proc: needs CAP_DAC_READ_SEARCH
			err = unix.Linkat(fd, "", a.loc.dir, tmp, unix.AT_EMPTY_PATH)
		}
		if err == nil {
			return tmp, nil
		}
		if !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	return "", err
}

// CreatedDirs lists the directories Create made for this file, outermost
// first.
func (a *AtomicFile) CreatedDirs() []string { return a.loc.created }

// Abort drops the new content and the directories Create made. It is safe
// to call after Commit.
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.File.Close()
	a.cleanup()
}

func (a *AtomicFile) cleanup() {
	if a.named != "" {
		unix.Unlinkat(a.loc.dir, a.named, 0)
		a.named = ""
	}
	a.loc.removeCreated()
	a.loc.close()
}

// Replace atomically replaces path with what fill writes.
func Replace(path string, opt Options, fill func(w io.Writer) error) (Result, error) {
	a, err := Create(path, opt)
	if err != nil {
		return Result{}, err
	}
	if err := fill(a); err != nil {
		a.Abort()
		return Result{}, err
	}
	if err := a.Commit(); err != nil {
		return Result{}, err
	}
	return a.Result, nil
}

// CreateAtomic is Create with Options{Perm: perm}.
func CreateAtomic(path string, perm os.FileMode) (*AtomicFile, error) {
	return Create(path, Options{Perm: perm})
}

// WriteFile atomically replaces path with data.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFrom(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFrom atomically replaces path with what fill writes.
func WriteFrom(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	_, err := Replace(path, Options{Perm: perm}, fill)
	return err
}

func syncDir(dir int) {
	fd, err := unix.Openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	unix.Fsync(fd)
	unix.Close(fd)
}
