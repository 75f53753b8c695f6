package fsutil

import (
	"errors"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// staleAge is how long a temp file must have gone unmodified before sweep
// considers it, beyond being unlocked: it covers the instant between
// creating a named temp file and locking it.
const staleAge = time.Minute

// sweep removes temp files a crashed servagent left in the directory dir:
// regular files named .NAME.servagent-*.tmp, owned by our user, unmodified
// for staleAge and not locked by a live writer (every writer holds a flock
// on its temp file until it commits or aborts; the kernel drops it when the
// process dies).
func sweep(dir int) {
	fd, err := unix.Openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	d := os.NewFile(uintptr(fd), "")
	defer d.Close()
	euid := uint32(os.Geteuid())
	for {
		names, err := d.Readdirnames(1024)
		for _, name := range names {
			if strings.HasPrefix(name, ".") && strings.Contains(name, tempMark) && strings.HasSuffix(name, tempSuffix) {
				sweepOne(dir, name, euid)
			}
		}
		if err != nil {
			return
		}
	}
}

func sweepOne(dir int, name string, euid uint32) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != euid {
		return
	}
	if time.Since(time.Unix(st.Mtim.Unix())) < staleAge {
		return
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return // a live writer holds it
	}
	// Still the same file under that name?
	var now unix.Stat_t
	if unix.Fstatat(dir, name, &now, unix.AT_SYMLINK_NOFOLLOW) != nil || now.Ino != st.Ino || now.Dev != st.Dev {
		return
	}
	unix.Unlinkat(dir, name, 0)
}

// Spool returns an unnamed read-write file in dir (O_TMPFILE; elsewhere a
// temp file unlinked at once), or in the system temp directory when dir is
// empty or unusable. Content written there before its destination is known
// takes no memory and vanishes when the file is closed or the process dies.
func Spool(dir string) (*os.File, error) {
	var firstErr error
	for _, d := range []string{dir, os.TempDir()} {
		if d == "" {
			continue
		}
		fd, err := unix.Open(d, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
		if err == nil {
			return os.NewFile(uintptr(fd), d+"/(spool)"), nil
		}
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
			f, err := os.CreateTemp(d, ".spool"+tempMark+"*"+tempSuffix)
			if err == nil {
				os.Remove(f.Name())
				return f, nil
			}
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}
