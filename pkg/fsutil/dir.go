package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// IsDir reports whether p is a directory, following symlinks; a path that
// cannot be stat'ed reads as not one. It is for checks that decide a message
// or a default, never for a later write, which resolves the path itself.
func IsDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Parent is the directory holding a path, reached by the same walk as a
// write (the symlink rule applies to every directory on the way), and the
// final name in it, which is never followed. Acting on Name relative to
// Fd (renameat, unlinkat, mkdirat, symlinkat, openat with O_NOFOLLOW)
// cannot be redirected by a directory swapped for a symlink meanwhile.
type Parent struct {
	loc  *location
	name string
}

// OpenParent resolves the directory of path, creating missing directories
// (0755) when createDirs is set. A missing directory is an error matching
// fs.ErrNotExist. The caller must Close it.
func OpenParent(path string, createDirs bool) (*Parent, error) {
	path = filepath.Clean(path)
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		path = abs
	}
	if path == "/" {
		return nil, refused("/ has no parent directory")
	}
	loc, err := resolveDir(filepath.Dir(path), createDirs)
	if err != nil {
		return nil, err
	}
	return &Parent{loc: loc, name: filepath.Base(path)}, nil
}

// Fd is the directory's descriptor (O_PATH: for the *at calls only).
func (p *Parent) Fd() int { return p.loc.dir }

// Dir is the directory's resolved path.
func (p *Parent) Dir() string { return p.loc.dirPath }

// Name is the final component.
func (p *Parent) Name() string { return p.name }

// Path is Dir joined with Name.
func (p *Parent) Path() string { return filepath.Join(p.loc.dirPath, p.name) }

// Lstat stats Name without following it.
func (p *Parent) Lstat() (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(p.loc.dir, p.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: p.Path(), Err: err}
	}
	return &st, nil
}

// RemoveCreated removes the directories OpenParent created (still empty
// and still the same inodes).
func (p *Parent) RemoveCreated() { p.loc.removeCreated() }

// Close releases the descriptors.
func (p *Parent) Close() { p.loc.close() }

// RemoveAllAt removes name in the directory dir and, when it is a
// directory, everything below it. It walks with openat(O_NOFOLLOW|
// O_DIRECTORY) and unlinkat, never through a path or a symlink: a link
// inside the tree is removed, not followed, and a directory swapped for a
// link meanwhile is not entered.
func RemoveAllAt(dir int, name string) error {
	return removeAllAt(dir, name, name)
}

func removeAllAt(dir int, name, shown string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return &fs.PathError{Op: "lstat", Path: shown, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := unix.Unlinkat(dir, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return &fs.PathError{Op: "unlink", Path: shown, Err: err}
		}
		return nil
	}
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("%s changed while it was being removed: try again", shown)
		}
		return &fs.PathError{Op: "open", Path: shown, Err: err}
	}
	d := os.NewFile(uintptr(fd), shown)
	defer d.Close()
	for pass := 0; ; pass++ {
		if _, err := d.Seek(0, io.SeekStart); err != nil {
			return err
		}
		names, err := d.Readdirnames(-1)
		if err != nil {
			return &fs.PathError{Op: "readdir", Path: shown, Err: err}
		}
		for _, n := range names {
			if err := removeAllAt(fd, n, filepath.Join(shown, n)); err != nil {
				return err
			}
		}
		err = unix.Unlinkat(dir, name, unix.AT_REMOVEDIR)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.ENOTEMPTY) || pass >= 3 {
			return &fs.PathError{Op: "rmdir", Path: shown, Err: err}
		}
	}
}
