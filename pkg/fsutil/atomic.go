// Package fsutil holds servagent's one mechanism for replacing a file
// atomically: write a temp file in the same directory, fsync it, give it the
// old file's mode and owner, rename it over the target, fsync the directory.
// A crash at any point leaves either the old content or the new, never a mix.
package fsutil

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// AtomicFile is a temp file that becomes Path on Commit.
type AtomicFile struct {
	*os.File
	Path  string
	mode  os.FileMode
	uid   int
	gid   int
	chown bool
	done  bool
}

// CreateAtomic opens a temp file next to path. If path exists, the new file
// will get its permission bits and owner; otherwise perm is used.
// The caller must call Commit or Abort.
func CreateAtomic(path string, perm os.FileMode) (*AtomicFile, error) {
	dir := filepath.Dir(path)
	a := &AtomicFile{Path: path, mode: perm}
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return nil, fmt.Errorf("%s is a directory", path)
		}
		a.mode = fi.Mode().Perm() | (fi.Mode() & (os.ModeSetuid | os.ModeSetgid | os.ModeSticky))
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			a.uid, a.gid, a.chown = int(st.Uid), int(st.Gid), true
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".servagent-*.tmp")
	if err != nil {
		return nil, err
	}
	a.File = f
	return a, nil
}

// SetMode overrides the permission bits the file gets on Commit (by default
// the replaced file's, or the perm given to CreateAtomic). The owner of a
// replaced file is still kept.
func (a *AtomicFile) SetMode(m os.FileMode) { a.mode = m }

// Commit flushes the temp file to disk and renames it over Path.
func (a *AtomicFile) Commit() error {
	if a.done {
		return errors.New("atomic file already committed or aborted")
	}
	a.done = true
	tmp := a.Name()
	fail := func(err error) error {
		a.File.Close()
		os.Remove(tmp)
		return err
	}
	if err := a.Sync(); err != nil {
		return fail(err)
	}
	// Owner first: chown clears setuid/setgid, so the mode goes on after.
	if a.chown && os.Geteuid() == 0 {
		if err := a.Chown(a.uid, a.gid); err != nil {
			return fail(err)
		}
	}
	if err := a.Chmod(a.mode); err != nil {
		return fail(err)
	}
	if err := a.File.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, a.Path); err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(filepath.Dir(a.Path))
	return nil
}

// Abort removes the temp file. It is safe to call after Commit.
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.File.Close()
	os.Remove(a.Name())
}

// ResolveWriteTarget returns the file a write to p should replace: the
// target of a symlink (so the link survives), or p itself. It refuses
// directories and special files (devices, FIFOs, sockets), which an atomic
// replace would turn into regular files. fi is nil when nothing exists yet.
func ResolveWriteTarget(p string) (string, os.FileInfo, error) {
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return "", nil, fmt.Errorf("%s is a symlink whose target cannot be resolved (%v): write to the target path directly", p, err)
		}
		p = real
		if fi, err = os.Stat(p); err != nil {
			return "", nil, err
		}
	}
	if fi.IsDir() {
		return "", nil, fmt.Errorf("%s is a directory: give a file path inside it", p)
	}
	if !fi.Mode().IsRegular() {
		return "", nil, fmt.Errorf("%s is not a regular file (%s): refusing to replace it", p, fi.Mode().Type())
	}
	return p, fi, nil
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
	a, err := CreateAtomic(path, perm)
	if err != nil {
		return err
	}
	if err := fill(a); err != nil {
		a.Abort()
		return err
	}
	return a.Commit()
}

func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
