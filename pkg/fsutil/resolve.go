package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrRefused marks a path servagent will not write or read through: a
// symlink another user planted in a shared directory, a directory, a device,
// FIFO or socket. Its message says why.
var ErrRefused = errors.New("refused")

// refused wraps ErrRefused with a sentence for the operator.
func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// maxLinks is the kernel's limit on symlinks followed in one lookup.
const maxLinks = 40

// location is a resolved write or read target: the name inside an open
// directory. Every later step works relative to dir, so a directory swapped
// for a symlink after resolution cannot redirect it.
type location struct {
	dir     int    // O_PATH descriptor of the directory holding name
	dirPath string // that directory's resolved path, for messages and results
	name    string // final component; never a symlink when resolve returns
	st      *unix.Stat_t
	viaLink bool     // the final component was reached through a symlink
	created []string // directories this resolution created, outermost first
	// createdAt records each created directory by its parent's descriptor
	// and its device and inode, so removing it never goes through a path
	// someone may have swapped for a symlink since.
	createdAt []createdDir
	// pastShared: the walk went through a sticky or other-writable
	// directory; every later directory owned by someone other than root or
	// servagent's own user counts as shared too (that user could have made
	// it there, and plants what they like inside).
	pastShared bool
}

// createdDir is a directory a resolution made.
type createdDir struct {
	parent   int // descriptor of the directory it was made in (our own dup)
	name     string
	dev, ino uint64
}

func (l *location) path() string { return filepath.Join(l.dirPath, l.name) }

// close releases the descriptors; call removeCreated first if the created
// directories are to go.
func (l *location) close() {
	if l.dir >= 0 {
		unix.Close(l.dir)
		l.dir = -1
	}
	for _, c := range l.createdAt {
		unix.Close(c.parent)
	}
	l.createdAt = nil
}

// removeCreated removes the directories this resolution created, innermost
// first, as long as they are still empty and still the directories it made
// (same device and inode under the same name in the same parent).
func (l *location) removeCreated() {
	for i := len(l.createdAt) - 1; i >= 0; i-- {
		c := l.createdAt[i]
		var st unix.Stat_t
		if unix.Fstatat(c.parent, c.name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil &&
			st.Mode&unix.S_IFMT == unix.S_IFDIR && st.Dev == c.dev && st.Ino == c.ino {
			unix.Unlinkat(c.parent, c.name, unix.AT_REMOVEDIR)
		}
		unix.Close(c.parent)
	}
	l.createdAt = nil
	l.created = nil
}

// resolve walks the absolute path p one component at a time with openat and
// O_NOFOLLOW, following a symlink only under the fs.protected_symlinks rule
// (see checkLink). When createDirs is set, missing directories are created
// (0755) and recorded. The final component may be missing (st is nil then),
// unless it was reached through a symlink: a dangling link is refused.
func resolve(p string, createDirs bool) (*location, error) {
	if !filepath.IsAbs(p) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		p = abs
	}
	root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: "/", Err: err}
	}
	w := &walk{location: location{dir: root, dirPath: "/"}, path: p, comps: splitPath(p), createDirs: createDirs}
	for len(w.comps) > 0 {
		done, err := w.next()
		if err != nil {
			w.removeCreated()
			w.close()
			return nil, err
		}
		if done {
			return &w.location, nil
		}
	}
	w.removeCreated()
	w.close()
	return nil, refused("%s is a directory: give a file path inside it", w.dirPath)
}

// walk is a resolution in progress: the location reached so far and the
// components still to resolve (a followed link's target is spliced in).
type walk struct {
	location
	path       string
	comps      []string
	links      int
	createDirs bool
	dirMode    bool // every component is a directory to enter (resolveDir)
}

// resolveDir walks the absolute directory path p like resolve, entering
// every component (none is a final file name), and returns the location of
// that directory itself (name is empty).
func resolveDir(p string, createDirs bool) (*location, error) {
	root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: "/", Err: err}
	}
	w := &walk{location: location{dir: root, dirPath: "/"}, path: p, comps: splitPath(p), createDirs: createDirs, dirMode: true}
	for len(w.comps) > 0 {
		if _, err := w.next(); err != nil {
			w.removeCreated()
			w.close()
			return nil, err
		}
	}
	return &w.location, nil
}

// next resolves one component; done means the final one is reached.
func (w *walk) next() (done bool, err error) {
	c := w.comps[0]
	w.comps = w.comps[1:]
	last := len(w.comps) == 0 && !w.dirMode
	if c == ".." {
		if err := w.enter(".."); err != nil {
			return false, err
		}
		if last {
			return false, refused("%s is a directory: give a file path inside it", w.dirPath)
		}
		return false, nil
	}
	st, err := w.stat(c, last)
	switch {
	case errors.Is(err, unix.ENOENT) && last:
		if w.viaLink {
			return false, fmt.Errorf("%w: the symlink at the end of %s points to %s, which does not exist: write to that path directly", fs.ErrNotExist, w.path, w.path2(c))
		}
		w.name = c
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, &missingDirError{dir: w.path2(c), path: filepath.Join(append([]string{w.dirPath, c}, w.comps...)...)}
	case err != nil:
		return false, &fs.PathError{Op: "stat", Path: w.path2(c), Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		return false, w.follow(c, st, last)
	case unix.S_IFDIR:
		if last {
			return false, refused("%s is a directory: give a file path inside it", w.path2(c))
		}
		return false, w.enter(c)
	}
	if !last {
		return false, &fs.PathError{Op: "open", Path: w.path2(c), Err: unix.ENOTDIR}
	}
	w.name, w.st = c, st
	return true, nil
}

// stat lstats c, first creating it as a directory when it is a missing
// parent and the walk may create them.
func (w *walk) stat(c string, last bool) (*unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(w.dir, c, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) && !last && w.createDirs {
		err = unix.Mkdirat(w.dir, c, 0o755)
		made := err == nil
		if err == nil || errors.Is(err, unix.EEXIST) {
			err = unix.Fstatat(w.dir, c, &st, unix.AT_SYMLINK_NOFOLLOW)
		}
		if made && err == nil {
			w.created = append(w.created, w.path2(c))
			if pfd, derr := unix.FcntlInt(uintptr(w.dir), unix.F_DUPFD_CLOEXEC, 0); derr == nil {
				w.createdAt = append(w.createdAt, createdDir{parent: pfd, name: c, dev: st.Dev, ino: st.Ino})
			}
		}
	}
	return &st, err
}

// follow splices the target of the symlink c into the walk, if the
// symlink rule allows following it.
func (w *walk) follow(c string, st *unix.Stat_t, last bool) error {
	if w.links++; w.links > maxLinks {
		return &fs.PathError{Op: "resolve", Path: w.path, Err: unix.ELOOP}
	}
	target, err := w.followable(c, st)
	if err != nil {
		return err
	}
	if strings.HasPrefix(target, "/") {
		if err := w.enter("/"); err != nil {
			return err
		}
	}
	w.comps = append(splitPath(target), w.comps...)
	if last {
		w.viaLink = true
	}
	if len(w.comps) == 0 && !w.dirMode { // a link to "/" or "."
		return refused("%s resolves to the directory %s: give a file path inside it", w.path, w.dirPath)
	}
	return nil
}

// missingDirError is a missing parent directory.
type missingDirError struct {
	dir  string // the first missing directory
	path string // the whole path as resolved so far
}

func (e *missingDirError) Error() string {
	return fmt.Sprintf("parent directory %s does not exist", e.dir)
}

func (e *missingDirError) Is(target error) bool { return target == fs.ErrNotExist }

func (l *location) path2(c string) string { return filepath.Join(l.dirPath, c) }

// enter moves the walk into the subdirectory c of the current directory
// (or to "/" or ".."), refusing a component that became a symlink.
func (l *location) enter(c string) error {
	var fd int
	var err error
	next := filepath.Join(l.dirPath, c)
	if c == "/" {
		next = "/"
		fd, err = unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	} else {
		fd, err = unix.Openat(l.dir, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	var cur unix.Stat_t
	if err == nil && c != "/" && unix.Fstat(l.dir, &cur) == nil && cur.Mode&(unix.S_ISVTX|unix.S_IWOTH) != 0 {
		l.pastShared = true
	}
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			return fmt.Errorf("%s changed while it was being resolved: try again", next)
		}
		return &fs.PathError{Op: "open", Path: next, Err: err}
	}
	unix.Close(l.dir)
	l.dir, l.dirPath = fd, next
	return nil
}

// followable applies the fs.protected_symlinks rule to the symlink c of the
// current directory and returns its target. In a sticky or other-writable
// directory a link is followed only when its owner is the directory's owner
// or the caller: otherwise anyone who can write there could point root's
// write at any file on the machine.
func (l *location) followable(c string, link *unix.Stat_t) (string, error) {
	var dir unix.Stat_t
	if err := unix.Fstat(l.dir, &dir); err != nil {
		return "", &fs.PathError{Op: "stat", Path: l.dirPath, Err: err}
	}
	if l.sharedDir(&dir) && !l.trustedOwner(&dir, link.Uid) {
		return "", refused("%s is a symlink owned by uid %d in the shared directory %s (mode %04o, owner uid %d%s): "+
			"servagent follows a symlink there only when its owner %s (the fs.protected_symlinks rule); "+
			"give the real path if you trust it", l.path2(c), link.Uid, l.dirPath, dir.Mode&0o7777, dir.Uid, l.belowShared(&dir), l.trustedWho(&dir))
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(l.dir, c, buf)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: l.path2(c), Err: err}
	}
	return string(buf[:n]), nil
}

// sharedDir reports whether dir, the current directory, is one where
// others can plant entries: sticky or other-writable, or owned by another
// user below such a directory.
func (l *location) sharedDir(dir *unix.Stat_t) bool {
	return dir.Mode&(unix.S_ISVTX|unix.S_IWOTH) != 0 || l.inheritedShared(dir)
}

// inheritedShared: dir itself is not open to all, but it belongs to
// someone other than root or us and the walk came through a shared
// directory to reach it.
func (l *location) inheritedShared(dir *unix.Stat_t) bool {
	return dir.Mode&(unix.S_ISVTX|unix.S_IWOTH) == 0 && l.pastShared && dir.Uid != 0 && dir.Uid != uint32(os.Geteuid())
}

// trustedOwner reports whether an entry owned by uid in the shared
// directory dir is trusted: owned by servagent's own user, or by the
// directory's owner when that directory is not itself another user's
// inside a shared one (then only root or us).
func (l *location) trustedOwner(dir *unix.Stat_t, uid uint32) bool {
	if uid == uint32(os.Geteuid()) {
		return true
	}
	if l.inheritedShared(dir) {
		return uid == 0
	}
	return uid == dir.Uid
}

func (l *location) trustedWho(dir *unix.Stat_t) string {
	if l.inheritedShared(dir) {
		return "is root or servagent's own user"
	}
	return "owns the directory or is servagent's own user"
}

func (l *location) belowShared(dir *unix.Stat_t) string {
	if l.inheritedShared(dir) {
		return ", below a sticky or other-writable directory"
	}
	return ""
}

// checkForeignFile applies the fs.protected_regular rule to st, the
// existing file name in the current directory that a write would replace
// or append to: in a shared directory, a file another user created there
// (not the directory's owner, not us) is refused, since root's content
// would land in a file that user controls or picked.
func (l *location) checkForeignFile(st *unix.Stat_t) error {
	var dir unix.Stat_t
	if err := unix.Fstat(l.dir, &dir); err != nil {
		return &fs.PathError{Op: "stat", Path: l.dirPath, Err: err}
	}
	if l.sharedDir(&dir) && !l.trustedOwner(&dir, st.Uid) {
		return refused("%s is owned by uid %d in the shared directory %s (mode %04o, owner uid %d%s): "+
			"servagent replaces or appends to a file there only when its owner %s (the fs.protected_regular rule); "+
			"delete it first or write elsewhere", l.path(), st.Uid, l.dirPath, dir.Mode&0o7777, dir.Uid, l.belowShared(&dir), l.trustedWho(&dir))
	}
	return nil
}

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// checkRegular refuses what an atomic replace or a download must not touch.
func checkRegular(p string, st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return nil
	case unix.S_IFDIR:
		return refused("%s is a directory: give a file path inside it", p)
	case unix.S_IFIFO:
		return refused("%s is a FIFO, not a regular file", p)
	case unix.S_IFSOCK:
		return refused("%s is a socket, not a regular file", p)
	case unix.S_IFCHR, unix.S_IFBLK:
		return refused("%s is a device, not a regular file", p)
	case unix.S_IFLNK:
		return fmt.Errorf("%s changed while it was being resolved: try again", p)
	}
	return refused("%s is not a regular file", p)
}

// ResolveWriteTarget returns the file a write to p should replace: the
// target of a symlink (so the link survives) when the symlink rule allows
// following it, or p itself. It refuses directories and special files,
// which an atomic replace would turn into regular files. fi is nil when
// nothing exists yet. Replace and Create resolve again themselves; this is
// for callers that need the final path before writing.
func ResolveWriteTarget(p string) (string, os.FileInfo, error) {
	loc, err := resolve(filepath.Clean(p), false)
	var missing *missingDirError
	if errors.As(err, &missing) {
		return missing.path, nil, nil // nothing there yet; the caller creates the parents
	}
	if err != nil {
		return "", nil, err
	}
	defer loc.close()
	if loc.st == nil {
		return loc.path(), nil, nil
	}
	if err := checkRegular(loc.path(), loc.st); err != nil {
		return "", nil, err
	}
	fi, err := os.Lstat(loc.path())
	if err != nil {
		return "", nil, err
	}
	return loc.path(), fi, nil
}
