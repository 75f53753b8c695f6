package fsutil

import (
	"errors"
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
