package skills

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/servagent/servagent/pkg/fsutil"
)

// Private modes: skills often hold credentials (an SMTP relay's password, a
// database URL), so only their owner reads them.
const (
	FileMode os.FileMode = 0o600
	DirMode  os.FileMode = 0o700
)

// Write creates or replaces dir/name/SKILL.md with data, atomically. The file
// is FileMode, even when it replaces a more open one; a directory Write creates
// is DirMode (an existing directory keeps its mode). When root writes into a
// skills directory that belongs to someone else (the service user of the
// installed layout), what it creates gets that owner, so the service still
// reads it. It returns the path written.
func Write(dir, name string, data []byte) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	skillDir := filepath.Join(dir, name)
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return "", err
	}
	uid, gid, chown := ownerFor(dir)
	created, err := mkdir(skillDir)
	if err != nil {
		return "", err
	}
	if created && chown {
		if err := os.Lchown(skillDir, uid, gid); err != nil {
			return "", err
		}
	}
	path := filepath.Join(skillDir, FileName)
	_, statErr := os.Lstat(path)
	isNew := errors.Is(statErr, fs.ErrNotExist)
	a, err := fsutil.CreateAtomic(path, FileMode)
	if err != nil {
		return "", err
	}
	defer a.Abort()
	a.SetMode(FileMode)
	if _, err := a.Write(data); err != nil {
		return "", err
	}
	if isNew && chown {
		if err := a.Chown(uid, gid); err != nil {
			return "", err
		}
	}
	if err := a.Commit(); err != nil {
		return "", err
	}
	return path, nil
}

// ownerFor returns the owner new entries under dir should get: dir's own,
// when this process is root and dir belongs to another user.
func ownerFor(dir string) (uid, gid int, ok bool) {
	if os.Geteuid() != 0 {
		return 0, 0, false
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, 0, false
	}
	st, isStat := fi.Sys().(*syscall.Stat_t)
	if !isStat || st.Uid == 0 {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}

// mkdir creates p with DirMode and reports whether it did; an existing
// directory (or a link to one) is left as it is.
func mkdir(p string) (bool, error) {
	err := os.Mkdir(p, DirMode)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Stat(p); serr == nil && fi.IsDir() {
			return false, nil
		}
		return false, fmt.Errorf("%s exists and is not a directory", p)
	}
	return false, err
}
