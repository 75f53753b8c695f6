package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Open opens a regular file for reading under the same rules as a write:
// the path is resolved component by component, a symlink in a shared
// directory is followed only under the fs.protected_symlinks rule, and
// directories, devices, FIFOs and sockets are refused (before opening, so
// opening has no side effect on a device and never blocks on a FIFO).
func Open(path string) (*os.File, os.FileInfo, error) {
	loc, err := resolve(filepath.Clean(path), false)
	if err != nil {
		return nil, nil, err
	}
	defer loc.close()
	p := loc.path()
	if loc.st == nil {
		return nil, nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	if err := checkRegular(p, loc.st); err != nil {
		return nil, nil, err
	}
	fd, err := unix.Openat(loc.dir, loc.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			err = unix.ENOENT // became a symlink since the walk: gone as far as we are concerned
		}
		return nil, nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), p)
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	if err == nil {
		err = checkRegular(p, &st)
	}
	var fi os.FileInfo
	if err == nil {
		fi, err = f.Stat()
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// OpenFile opens path for an in-place write (append, a chunk at an offset)
// under the same rules as Create: the symlink rule, no special files, and
// missing parents only with opt.CreateDirs. A new file gets opt.Perm (0:
// 0644). An existing file loses setuid and setgid at once, since its
// content is about to change (the kernel does the same for an unprivileged
// writer). created reports whether the file was made by this call.
func OpenFile(path string, flag int, opt Options) (f *os.File, created bool, err error) {
	loc, err := resolve(filepath.Clean(path), opt.CreateDirs)
	if err != nil {
		return nil, false, err
	}
	defer loc.close()
	p := loc.path()
	if loc.st != nil {
		if err := checkRegular(p, loc.st); err != nil {
			loc.removeCreated()
			return nil, false, err
		}
		if err := loc.checkForeignFile(loc.st); err != nil {
			return nil, false, err
		}
	}
	perm := opt.Perm.Perm()
	if perm == 0 {
		perm = 0o644
	}
	flag &^= os.O_EXCL
	fd, err := unix.Openat(loc.dir, loc.name, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, uint32(perm))
	if err != nil {
		loc.removeCreated()
		if errors.Is(err, unix.ELOOP) {
			return nil, false, fmt.Errorf("%s changed while it was being resolved: try again", p)
		}
		return nil, false, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	if err == nil {
		err = checkRegular(p, &st)
	}
	if err == nil && st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		err = unix.Fchmod(fd, st.Mode&0o1777)
	}
	if err != nil {
		unix.Close(fd)
		return nil, false, err
	}
	unix.SetNonblock(fd, false)
	return os.NewFile(uintptr(fd), p), loc.st == nil, nil
}
