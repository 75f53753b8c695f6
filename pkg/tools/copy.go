package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"golang.org/x/sys/unix"

	"github.com/servagent/servagent/pkg/fsutil"
)

// CopyPathInput are the arguments of copy_path.
type CopyPathInput struct {
	Source      string `json:"source" jsonschema:"file, directory or symlink to copy"`
	Destination string `json:"destination" jsonschema:"path of the copy (the full path, not the directory to copy into)"`
	CreateDirs  *bool  `json:"create_dirs,omitempty" jsonschema:"create missing parent directories of destination (default true)"`
}

// CopyPathOutput is the result of copy_path.
type CopyPathOutput struct {
	Source      string   `json:"source"`
	Destination string   `json:"destination"`
	Type        string   `json:"type"`
	Files       int      `json:"files"`
	Dirs        int      `json:"dirs"`
	Symlinks    int      `json:"symlinks"`
	Bytes       int64    `json:"bytes"`
	Overwrote   bool     `json:"overwrote" jsonschema:"true when an existing destination file was replaced"`
	Skipped     []string `json:"skipped,omitempty" jsonschema:"special files (devices, sockets, FIFOs) not copied"`
}

var copyPathTool = define(Tool{
	Name:  "copy_path",
	Title: "Copy a path",
	Description: "Copy a file, a directory (recursively) or a symlink (the link itself) to destination, keeping modes, mtimes and symlinks. " +
		"destination is the full path of the copy; an existing destination directory is refused, an existing file is replaced atomically. " +
		"A directory copy is built under a temp name and renamed into place, so a failed copy leaves nothing behind. Works across filesystems.",
	Hints: Hints{Destructive: true, Idempotent: true},
	Audit: []string{"source", "destination"},
}, (*Env).copyPath)

func (e *Env) copyPath(ctx context.Context, req *mcp.CallToolRequest, in CopyPathInput) (*mcp.CallToolResult, CopyPathOutput, error) {
	src, dst, sfi, err := e.srcDst(in.Source, in.Destination, "copy")
	if err != nil {
		return nil, CopyPathOutput{}, err
	}
	out := CopyPathOutput{Source: src, Destination: dst, Type: typeName(sfi.Mode())}
	if out.Overwrote, err = e.checkDestination(sfi, src, dst, "copy"); err != nil {
		return nil, CopyPathOutput{}, err
	}
	if out.Overwrote && sfi.Mode().IsRegular() {
		// Like cp (and write_file): a file copied onto a symlink lands in
		// the link's target instead of replacing the link.
		if dst, _, err = fsutil.ResolveWriteTarget(dst); err != nil {
			return nil, CopyPathOutput{}, err
		}
	}
	if out.Type == "other" {
		return nil, CopyPathOutput{}, fmt.Errorf("%s is a special file (%s): only files, directories and symlinks are copied", src, sfi.Mode().Type())
	}
	sp, err := openSourceParent(src)
	if err != nil {
		return nil, CopyPathOutput{}, err
	}
	defer sp.Close()
	dp, err := openParent(dst, in.CreateDirs == nil || *in.CreateDirs)
	if err != nil {
		return nil, CopyPathOutput{}, err
	}
	defer dp.Close()
	stop := e.reportProgress(ctx, req, "copying")
	var st copyStats
	err = copyInto(ctx, sp, dp, dst, sfi, false, &st)
	stop()
	if err != nil {
		dp.RemoveCreated()
		return nil, CopyPathOutput{}, fmt.Errorf("copying %s to %s failed (nothing was left at the destination): %w", src, dst, err)
	}
	out.Files, out.Dirs, out.Symlinks, out.Bytes, out.Skipped = st.files, st.dirs, st.symlinks, st.bytes, st.skipped
	msg := fmt.Sprintf("copied %s to %s: %d files, %d dirs, %d symlinks, %d bytes", src, dst, out.Files, out.Dirs, out.Symlinks, out.Bytes)
	if len(out.Skipped) > 0 {
		msg += fmt.Sprintf("; %d special files skipped: %s", len(out.Skipped), strings.Join(out.Skipped[:min(len(out.Skipped), 20)], ", "))
	}
	return textResult("%s", msg), out, nil
}

type copyStats struct {
	files, dirs, symlinks int
	bytes                 int64
	skipped               []string
}

// copyInto makes dp's entry (the path dst) a copy of sp's entry so that it
// appears complete or not at all: files through fsutil's atomic replace,
// symlinks and directories built under a temp name in dst's directory and
// renamed into place. The source is opened relative to its parent's
// descriptor without following a link, and its type, mode, owner and mtime
// come from that descriptor; sfi (what the caller saw) must still match.
// keepOwner (move) also copies uid/gid when running as root.
func copyInto(ctx context.Context, sp, dp *fsutil.Parent, dst string, sfi os.FileInfo, keepOwner bool, st *copyStats) error {
	src := sp.Path()
	lst, err := sp.Lstat()
	if err != nil {
		return err
	}
	if typeOf(lst) != typeName(sfi.Mode()) {
		return changedErr(src)
	}
	switch typeOf(lst) {
	case "file":
		return copyFileInto(ctx, sp, dst, keepOwner, st)
	case "symlink":
		return copySymlinkInto(sp, dp, keepOwner, st)
	case "dir":
		return copyDirInto(ctx, sp, dp, keepOwner, st)
	}
	return fmt.Errorf("%s is a special file (%s)", src, sfi.Mode().Type())
}

// copyFileInto copies a regular file through fsutil's atomic replace.
func copyFileInto(ctx context.Context, sp *fsutil.Parent, dst string, keepOwner bool, st *copyStats) error {
	f, fi, err := openEntry(sp.Fd(), sp.Name(), sp.Path(), false)
	if err != nil {
		return err
	}
	defer f.Close()
	// Owner, mode and mtime go on the descriptor before the rename, so
	// nothing is applied through a path that may change meanwhile.
	root := keepOwner && os.Geteuid() == 0
	opt := fsutil.Options{Perm: fileMode(fi, root), ForceMode: true, CopySetid: true, ModTime: fi.ModTime()}
	if s, ok := fi.Sys().(*syscall.Stat_t); ok && root {
		opt.Owner = &fsutil.Owner{UID: int(s.Uid), GID: int(s.Gid)}
	}
	a, err := fsutil.Create(dst, opt)
	if err != nil {
		return err
	}
	if err := copyContent(ctx, f, a.File, st); err != nil {
		a.Abort()
		return err
	}
	if err := a.Commit(); err != nil {
		return err
	}
	st.files++
	return nil
}

// copySymlinkInto recreates a symlink under a temp name in the destination
// directory, then renames it into place.
func copySymlinkInto(sp, dp *fsutil.Parent, keepOwner bool, st *copyStats) error {
	var tmp string
	var err error
	for range 100 {
		tmp = fsutil.TempName(dp.Name())
		if err = copySymlinkAt(sp.Fd(), sp.Name(), sp.Path(), dp.Fd(), tmp, keepOwner); !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	if err != nil {
		return err
	}
	if err := renameAt(dp.Fd(), tmp, dp.Fd(), dp.Name(), false); err != nil {
		unix.Unlinkat(dp.Fd(), tmp, 0)
		return err
	}
	st.symlinks++
	return nil
}

// copyDirInto builds the tree under a private temp directory next to the
// destination and renames it into place whole.
func copyDirInto(ctx context.Context, sp, dp *fsutil.Parent, keepOwner bool, st *copyStats) error {
	src := sp.Path()
	sd, sdi, err := openEntry(sp.Fd(), sp.Name(), src, true)
	if err != nil {
		return err
	}
	defer sd.Close()
	var tmp string
	for range 100 {
		tmp = fsutil.TempName(dp.Name())
		if err = unix.Mkdirat(dp.Fd(), tmp, 0o700); !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	if err != nil {
		return &os.PathError{Op: "mkdir", Path: filepath.Join(dp.Dir(), tmp), Err: err}
	}
	fail := func(err error) error {
		fsutil.RemoveAllAt(dp.Fd(), tmp)
		return err
	}
	td, err := openNewDir(dp.Fd(), tmp, filepath.Join(dp.Dir(), tmp))
	if err != nil {
		return fail(err)
	}
	defer td.Close()
	if err := copyDirContents(ctx, sd, src, td, keepOwner, st); err != nil {
		return fail(err)
	}
	if err := finishMeta(td, sdi, keepOwner); err != nil {
		return fail(err)
	}
	if err := renameAt(dp.Fd(), tmp, dp.Fd(), dp.Name(), true); err != nil {
		return fail(err)
	}
	st.dirs++
	return nil
}

func typeOf(st *unix.Stat_t) string {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFLNK:
		return "symlink"
	}
	return "other"
}

func changedErr(p string) error {
	return fmt.Errorf("%s changed while it was being copied (its type is not what it was): nothing was copied from it; try again", p)
}

// openEntry opens name in the directory dir for reading without following
// a symlink and without blocking on a FIFO, and checks that it is (still) a
// regular file, or a directory when dir is set.
func openEntry(dirfd int, name, shown string, dir bool) (*os.File, os.FileInfo, error) {
	flag := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	if dir {
		flag |= unix.O_DIRECTORY
	}
	fd, err := unix.Openat(dirfd, name, flag, 0)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return nil, nil, changedErr(shown)
	}
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: shown, Err: err}
	}
	f := os.NewFile(uintptr(fd), shown)
	fi, err := f.Stat()
	if err == nil && (dir && !fi.IsDir() || !dir && !fi.Mode().IsRegular()) {
		err = changedErr(shown)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// openNewDir opens a directory we just made, refusing anything else.
func openNewDir(dirfd int, name, shown string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: shown, Err: err}
	}
	return os.NewFile(uintptr(fd), shown), nil
}

// copyDirContents copies the entries of the open directory src into the
// open, new directory dst, every step relative to those descriptors.
// Inside the temp tree plain writes are enough: the tree appears as a whole.
func copyDirContents(ctx context.Context, src *os.File, srcPath string, dst *os.File, keepOwner bool, st *copyStats) error {
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	for {
		names, rerr := src.Readdirnames(readDirBatch)
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			s := filepath.Join(srcPath, name)
			var lst unix.Stat_t
			if err := unix.Fstatat(sfd, name, &lst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return &os.PathError{Op: "lstat", Path: s, Err: err}
			}
			switch typeOf(&lst) {
			case "dir":
				sd, fi, err := openEntry(sfd, name, s, true)
				if err != nil {
					return err
				}
				err = copyDir(ctx, sd, fi, s, dfd, name, filepath.Join(dst.Name(), name), keepOwner, st)
				sd.Close()
				if err != nil {
					return err
				}
				st.dirs++
			case "symlink":
				if err := copySymlinkAt(sfd, name, s, dfd, name, keepOwner); err != nil {
					return err
				}
				st.symlinks++
			case "file":
				sf, fi, err := openEntry(sfd, name, s, false)
				if err != nil {
					return err
				}
				err = copyFileAt(ctx, sf, fi, dfd, name, filepath.Join(dst.Name(), name), keepOwner, st)
				sf.Close()
				if err != nil {
					return err
				}
				st.files++
			default:
				st.skipped = append(st.skipped, s)
			}
		}
		if rerr == io.EOF || (rerr == nil && len(names) == 0) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// copyDir makes name in dfd a copy of the open directory sd.
func copyDir(ctx context.Context, sd *os.File, fi os.FileInfo, srcPath string, dfd int, name, shown string, keepOwner bool, st *copyStats) error {
	// 0700 while filling, so nobody else writes into it meanwhile.
	if err := unix.Mkdirat(dfd, name, 0o700); err != nil {
		return &os.PathError{Op: "mkdir", Path: shown, Err: err}
	}
	td, err := openNewDir(dfd, name, shown)
	if err != nil {
		return err
	}
	defer td.Close()
	if err := copyDirContents(ctx, sd, srcPath, td, keepOwner, st); err != nil {
		return err
	}
	return finishMeta(td, fi, keepOwner)
}

// copyFileAt makes name in dfd a copy of the open file sf.
func copyFileAt(ctx context.Context, sf *os.File, fi os.FileInfo, dfd int, name, shown string, keepOwner bool, st *copyStats) error {
	fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: shown, Err: err}
	}
	f := os.NewFile(uintptr(fd), shown)
	defer f.Close()
	if err := copyContent(ctx, sf, f, st); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return finishMeta(f, fi, keepOwner)
}

func copyContent(ctx context.Context, src *os.File, w io.Writer, st *copyStats) error {
	n, err := io.Copy(w, &ctxReader{ctx: ctx, r: src})
	st.bytes += n
	return err
}

// copySymlinkAt makes dname in dfd a symlink with the target of sname in
// sfd, owned (keepOwner, as root) like it.
func copySymlinkAt(sfd int, sname, shown string, dfd int, dname string, keepOwner bool) error {
	var lst unix.Stat_t
	if err := unix.Fstatat(sfd, sname, &lst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "lstat", Path: shown, Err: err}
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(sfd, sname, buf)
	if err != nil {
		if errors.Is(err, unix.EINVAL) {
			return changedErr(shown)
		}
		return &os.PathError{Op: "readlink", Path: shown, Err: err}
	}
	if err := unix.Symlinkat(string(buf[:n]), dfd, dname); err != nil {
		return err
	}
	if keepOwner && os.Geteuid() == 0 {
		unix.Fchownat(dfd, dname, int(lst.Uid), int(lst.Gid), unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// fileMode is the mode a copy gets: the permission bits plus sticky, and
// setuid/setgid only when the copy keeps the source's owner: a copy made
// by root of another user's setuid program must not become a setuid-root
// program (cp does the same).
func fileMode(fi os.FileInfo, ownerKept bool) os.FileMode {
	m := fi.Mode()
	keep := m & os.ModeSticky
	if ownerKept || sameOwnerAsUs(fi) {
		keep |= m & (os.ModeSetuid | os.ModeSetgid)
	}
	return m.Perm() | keep
}

func sameOwnerAsUs(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid() && int(st.Gid) == os.Getegid()
}

// finishMeta applies owner, mode and mtime of fi (from the source's
// descriptor) to the open copy f (in that order: chown clears setuid bits,
// and writing into a dir changes its mtime), all on the descriptor.
func finishMeta(f *os.File, fi os.FileInfo, keepOwner bool) error {
	root := keepOwner && os.Geteuid() == 0
	if root {
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			if err := f.Chown(int(s.Uid), int(s.Gid)); err != nil {
				return err
			}
		}
	}
	if err := unix.Fchmod(int(f.Fd()), unixMode(fileMode(fi, root))); err != nil {
		return &os.PathError{Op: "chmod", Path: f.Name(), Err: err}
	}
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(fi.ModTime().UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", f.Fd()), ts, 0); err != nil {
		return &os.PathError{Op: "chtimes", Path: f.Name(), Err: err}
	}
	return nil
}

// unixMode turns a Go mode's permission and special bits into st_mode bits.
func unixMode(m os.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		u |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		u |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		u |= unix.S_ISVTX
	}
	return u
}
