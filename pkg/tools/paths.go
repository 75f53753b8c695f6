package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/fsutil"
)

// protectedTop are the top-level directories delete_path and move_path
// refuse to touch (as themselves; their contents are allowed).
var protectedTop = []string{
	"bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "lost+found",
	"media", "mnt", "opt", "proc", "root", "run", "sbin", "snap", "srv", "sys", "tmp", "usr", "var",
}

// protectedDeep are second-level system directories just as fatal to lose.
var protectedDeep = []string{
	"/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libexec", "/usr/include",
	"/usr/local", "/usr/share", "/var/lib", "/var/log", "/etc/ssh", "/etc/systemd",
}

// checkProtected refuses "/", the system directories, the server's working
// directory and its ancestors, and the server user's home. p is checked as
// given (cleaned) and with its parent's symlinks resolved, so /foo/etc with
// /foo -> / is caught too.
func (e *Env) checkProtected(p, verb string) error {
	cands := []string{filepath.Clean(p)}
	if real, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		cands = append(cands, filepath.Join(real, filepath.Base(p)))
	}
	home, _ := os.UserHomeDir()
	wd := ""
	if e.WorkDir != "" {
		wd = filepath.Clean(e.WorkDir)
	}
	for _, c := range cands {
		why := ""
		switch {
		case c == "/":
			why = "it is the root directory"
		case filepath.Dir(c) == "/" && slices.Contains(protectedTop, filepath.Base(c)):
			why = "it is a top-level system directory"
		case slices.Contains(protectedDeep, c):
			why = "it is a system directory"
		case wd != "" && (c == wd || strings.HasPrefix(wd, c+"/")):
			why = "it is (or contains) the server's working directory " + wd
		case home != "" && home != "/" && c == filepath.Clean(home):
			why = "it is the server user's home directory"
		}
		if why != "" {
			return fmt.Errorf("refusing to %s %s: %s. Act on specific entries inside it instead", verb, c, why)
		}
	}
	return nil
}

// realLenient resolves symlinks in the longest existing prefix of p.
func realLenient(p string) string {
	rest := ""
	for cur := p; ; cur = filepath.Dir(cur) {
		if real, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(real, rest)
		}
		if cur == "/" || cur == "." {
			return p
		}
		rest = filepath.Join(filepath.Base(cur), rest)
	}
}

// checkNotInside refuses a destination equal to or under the source dir.
func checkNotInside(src, dst, verb string) error {
	s, d := realLenient(src), realLenient(dst)
	if d == s || strings.HasPrefix(d, s+"/") || s == "/" {
		return fmt.Errorf("cannot %s %s into itself (%s is inside it): choose a destination outside the source", verb, src, dst)
	}
	return nil
}

// ---------------------------------------------------------------- move_path

// MovePathInput are the arguments of move_path.
type MovePathInput struct {
	Source      string `json:"source" jsonschema:"file, directory or symlink to move"`
	Destination string `json:"destination" jsonschema:"new path (the full path, not the directory to move into)"`
	CreateDirs  *bool  `json:"create_dirs,omitempty" jsonschema:"create missing parent directories of destination (default true)"`
}

// MovePathOutput is the result of move_path.
type MovePathOutput struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Type        string `json:"type" jsonschema:"file, dir, symlink or other"`
	Method      string `json:"method" jsonschema:"rename, or copy+delete across filesystems"`
	Overwrote   bool   `json:"overwrote" jsonschema:"true when an existing destination file was replaced"`
}

var movePathTool = define(Tool{
	Name:  "move_path",
	Title: "Move or rename a path",
	Description: "Move or rename a file, directory or symlink. destination is the full new path; an existing destination file is replaced, an existing destination directory is refused. " +
		"Across filesystems the source is copied (modes, owners, mtimes, symlinks kept) then deleted. System directories cannot be moved.",
	Hints: Hints{Destructive: true},
	Audit: []string{"source", "destination"},
}, (*Env).movePath)

func (e *Env) movePath(ctx context.Context, req *mcp.CallToolRequest, in MovePathInput) (*mcp.CallToolResult, MovePathOutput, error) {
	src, dst, sfi, err := e.srcDst(in.Source, in.Destination, "move")
	if err != nil {
		return nil, MovePathOutput{}, err
	}
	if err := e.checkProtected(src, "move"); err != nil {
		return nil, MovePathOutput{}, err
	}
	out := MovePathOutput{Source: src, Destination: dst, Type: typeName(sfi.Mode()), Method: "rename"}
	if out.Overwrote, err = e.checkDestination(sfi, src, dst, "move"); err != nil {
		return nil, MovePathOutput{}, err
	}
	if err := prepareParent(dst, in.CreateDirs == nil || *in.CreateDirs); err != nil {
		return nil, MovePathOutput{}, err
	}
	err = os.Rename(src, dst)
	if errors.Is(err, syscall.EXDEV) {
		out.Method = "copy+delete"
		stop := e.reportProgress(ctx, req, "moving across filesystems")
		var st copyStats
		err = copyInto(ctx, src, dst, sfi, true, &st)
		stop()
		if err != nil {
			return nil, MovePathOutput{}, fmt.Errorf("moving %s to another filesystem failed while copying (the source is intact, nothing was left at the destination): %w", src, err)
		}
		if err := os.RemoveAll(src); err != nil {
			return nil, MovePathOutput{}, fmt.Errorf("copied %s to %s but could not delete all of the source: %w. The destination is complete; delete the rest of the source with delete_path", src, dst, err)
		}
	} else if err != nil {
		return nil, MovePathOutput{}, fmt.Errorf("cannot move %s to %s: %w", src, dst, err)
	}
	return textResult("moved %s to %s (%s, %s)", src, dst, out.Type, out.Method), out, nil
}

// srcDst resolves both paths and checks the source exists.
func (e *Env) srcDst(source, destination, verb string) (string, string, os.FileInfo, error) {
	src, err := e.resolve(source)
	if err != nil {
		return "", "", nil, fmt.Errorf("source: %w", err)
	}
	dst, err := e.resolve(destination)
	if err != nil {
		return "", "", nil, fmt.Errorf("destination: %w", err)
	}
	if src == dst {
		return "", "", nil, fmt.Errorf("source and destination are the same path %s", src)
	}
	sfi, err := os.Lstat(src)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", "", nil, fmt.Errorf("source %s does not exist: check it with list_directory", src)
		}
		return "", "", nil, err
	}
	if sfi.IsDir() {
		if err := checkNotInside(src, dst, verb); err != nil {
			return "", "", nil, err
		}
	}
	return src, dst, sfi, nil
}

// checkDestination allows replacing an existing non-directory with a
// non-directory only; it reports whether something will be replaced.
func (e *Env) checkDestination(sfi os.FileInfo, src, dst, verb string) (bool, error) {
	dfi, err := os.Lstat(dst)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// A symlink to a directory counts as one: replacing /bin -> usr/bin
	// with a file would be as bad as replacing the directory.
	if dfi.IsDir() || dfi.Mode()&os.ModeSymlink != 0 && isDir(dst) {
		return false, fmt.Errorf("destination %s is an existing directory: to %s into it give the full path, e.g. %s", dst, verb, filepath.Join(dst, filepath.Base(src)))
	}
	if err := e.checkProtected(dst, "replace"); err != nil {
		return false, err
	}
	if sfi.IsDir() {
		return false, fmt.Errorf("destination %s exists and is not a directory: refusing to replace it with the directory %s; delete it first or choose another destination", dst, src)
	}
	return true, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func typeName(m os.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "dir"
	case m&os.ModeSymlink != 0:
		return "symlink"
	}
	return "other"
}

// ---------------------------------------------------------------- copy_path

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
		if dst, _, err = writeTarget(dst); err != nil {
			return nil, CopyPathOutput{}, err
		}
	}
	if out.Type == "other" {
		return nil, CopyPathOutput{}, fmt.Errorf("%s is a special file (%s): only files, directories and symlinks are copied", src, sfi.Mode().Type())
	}
	if err := prepareParent(dst, in.CreateDirs == nil || *in.CreateDirs); err != nil {
		return nil, CopyPathOutput{}, err
	}
	stop := e.reportProgress(ctx, req, "copying")
	var st copyStats
	err = copyInto(ctx, src, dst, sfi, false, &st)
	stop()
	if err != nil {
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

// copyInto makes dst a copy of src so that dst appears complete or not at
// all: files through fsutil's atomic replace, symlinks and directories built
// under a temp name in dst's directory and renamed into place.
// keepOwner (move) also copies uid/gid when running as root.
func copyInto(ctx context.Context, src, dst string, sfi os.FileInfo, keepOwner bool, st *copyStats) error {
	switch m := sfi.Mode(); {
	case m.IsRegular():
		a, err := fsutil.CreateAtomic(dst, m.Perm())
		if err != nil {
			return err
		}
		if err := copyContent(ctx, src, a.File, st); err != nil {
			a.Abort()
			return err
		}
		a.SetMode(m.Perm())
		if err := a.Commit(); err != nil {
			return err
		}
		st.files++
		return finishMeta(dst, sfi, keepOwner, true)
	case m&os.ModeSymlink != 0:
		tmp := tempName(dst)
		if err := copySymlink(src, tmp, sfi, keepOwner); err != nil {
			return err
		}
		if err := os.Rename(tmp, dst); err != nil {
			os.Remove(tmp)
			return err
		}
		st.symlinks++
		return nil
	case m.IsDir():
		tmp, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".servagent-*.tmp")
		if err != nil {
			return err
		}
		if err := copyDirContents(ctx, src, tmp, keepOwner, st); err != nil {
			os.RemoveAll(tmp)
			return err
		}
		if err := finishMeta(tmp, sfi, keepOwner, true); err != nil {
			os.RemoveAll(tmp)
			return err
		}
		if err := os.Rename(tmp, dst); err != nil {
			os.RemoveAll(tmp)
			return err
		}
		st.dirs++
		return nil
	}
	return fmt.Errorf("%s is a special file (%s)", src, sfi.Mode().Type())
}

// copyDirContents copies the entries of src into the existing dir dst.
// Inside the temp tree plain writes are enough: the tree appears as a whole.
func copyDirContents(ctx context.Context, src, dst string, keepOwner bool, st *copyStats) error {
	d, err := os.Open(src)
	if err != nil {
		return err
	}
	defer d.Close()
	for {
		batch, rerr := d.ReadDir(readDirBatch)
		for _, de := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			s, t := filepath.Join(src, de.Name()), filepath.Join(dst, de.Name())
			fi, err := de.Info()
			if err != nil {
				return err
			}
			switch m := fi.Mode(); {
			case m.IsDir():
				// 0700 while filling, so nobody else writes into it meanwhile.
				if err := os.Mkdir(t, 0o700); err != nil {
					return err
				}
				if err := copyDirContents(ctx, s, t, keepOwner, st); err != nil {
					return err
				}
				if err := finishMeta(t, fi, keepOwner, true); err != nil {
					return err
				}
				st.dirs++
			case m&os.ModeSymlink != 0:
				if err := copySymlink(s, t, fi, keepOwner); err != nil {
					return err
				}
				st.symlinks++
			case m.IsRegular():
				f, err := os.OpenFile(t, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					return err
				}
				err = copyContent(ctx, s, f, st)
				if err == nil {
					err = f.Sync()
				}
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				if err := finishMeta(t, fi, keepOwner, true); err != nil {
					return err
				}
				st.files++
			default:
				st.skipped = append(st.skipped, s)
			}
		}
		if rerr == io.EOF || (rerr == nil && len(batch) == 0) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

func copyContent(ctx context.Context, src string, w io.Writer, st *copyStats) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, &ctxReader{ctx: ctx, r: f})
	st.bytes += n
	return err
}

func copySymlink(src, dst string, fi os.FileInfo, keepOwner bool) error {
	target, err := os.Readlink(src)
	if err != nil {
		return err
	}
	if err := os.Symlink(target, dst); err != nil {
		return err
	}
	if keepOwner && os.Geteuid() == 0 {
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			os.Lchown(dst, int(s.Uid), int(s.Gid))
		}
	}
	return nil
}

// fileMode keeps the permission bits plus setuid/setgid/sticky.
// fileMode is the mode a copy gets. Setuid and setgid survive only when the
// copy keeps the source's owner: a copy made by root of another user's
// setuid program must not become a setuid-root program (cp does the same).
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

// finishMeta applies owner, mode and mtime (in that order: chown clears
// setuid bits, and writing into a dir changes its mtime).
func finishMeta(p string, fi os.FileInfo, keepOwner, setMode bool) error {
	if keepOwner && os.Geteuid() == 0 {
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			if err := os.Lchown(p, int(s.Uid), int(s.Gid)); err != nil {
				return err
			}
		}
	}
	if setMode {
		if err := os.Chmod(p, fileMode(fi, keepOwner && os.Geteuid() == 0)); err != nil {
			return err
		}
	}
	return os.Chtimes(p, time.Time{}, fi.ModTime())
}

func tempName(dst string) string {
	return filepath.Join(filepath.Dir(dst), fmt.Sprintf(".%s.servagent-%d-%d.tmp", filepath.Base(dst), os.Getpid(), time.Now().UnixNano()))
}

// -------------------------------------------------------------- delete_path

// DeletePathInput are the arguments of delete_path.
type DeletePathInput struct {
	Path      string `json:"path" jsonschema:"file, directory or symlink to delete"`
	Recursive bool   `json:"recursive,omitempty" jsonschema:"required to delete a non-empty directory and everything in it"`
}

// DeletePathOutput is the result of delete_path.
type DeletePathOutput struct {
	Path string `json:"path"`
	Type string `json:"type" jsonschema:"what was deleted: file, dir, symlink (the link only) or other"`
}

var deletePathTool = define(Tool{
	Name:  "delete_path",
	Title: "Delete a path",
	Description: "Delete a file, a symlink (the link, never its target) or a directory; a non-empty directory needs recursive=true. " +
		"Refuses /, the system directories (/etc, /usr, /var, ...), the server's working directory and its parents. There is no undo.",
	Hints: Hints{Destructive: true, Idempotent: true},
	Audit: []string{"path", "recursive"},
}, (*Env).deletePath)

func (e *Env) deletePath(ctx context.Context, _ *mcp.CallToolRequest, in DeletePathInput) (*mcp.CallToolResult, DeletePathOutput, error) {
	p, err := e.resolve(in.Path)
	if err != nil {
		return nil, DeletePathOutput{}, err
	}
	if err := e.checkProtected(p, "delete"); err != nil {
		return nil, DeletePathOutput{}, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, DeletePathOutput{}, fmt.Errorf("%s does not exist (nothing to delete)", p)
		}
		return nil, DeletePathOutput{}, err
	}
	out := DeletePathOutput{Path: p, Type: typeName(fi.Mode())}
	if fi.IsDir() && in.Recursive {
		err = os.RemoveAll(p)
	} else {
		err = os.Remove(p)
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			return nil, DeletePathOutput{}, fmt.Errorf("%s is a non-empty directory: list it with list_directory, then pass recursive=true to delete it with everything inside", p)
		}
	}
	if err != nil {
		return nil, DeletePathOutput{}, fmt.Errorf("cannot delete %s: %w", p, err)
	}
	what := out.Type
	if out.Type == "symlink" {
		what = "symlink (its target was left alone)"
	}
	return textResult("deleted %s %s", what, p), out, nil
}
