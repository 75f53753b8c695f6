package tools

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

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
	for _, c := range cands {
		why := ""
		switch {
		case c == "/":
			why = "it is the root directory"
		case filepath.Dir(c) == "/" && slices.Contains(protectedTop, filepath.Base(c)):
			why = "it is a top-level system directory"
		case slices.Contains(protectedDeep, c):
			why = "it is a system directory"
		}
		// Each protected path is also protected as the directory it
		// resolves to: with SERVAGENT_WORK_DIR=/srv/app -> /srv/releases/7,
		// deleting /srv/releases/7 breaks every later command just the same.
		for _, prot := range protectedForms(e.WorkDir, home, protectedDeep, protectedTop) {
			if why != "" {
				break
			}
			switch {
			case prot.path == "/":
			case prot.kind == "work" && (c == prot.path || strings.HasPrefix(prot.path, c+"/")):
				why = "it is (or contains) the server's working directory " + prot.path
			case prot.kind == "home" && c == prot.path:
				why = "it is the server user's home directory"
			case prot.kind == "system" && c == prot.path:
				why = "it is a system directory (" + prot.path + ")"
			}
		}
		if why != "" {
			return fmt.Errorf("refusing to %s %s: %s. Act on specific entries inside it instead", verb, c, why)
		}
	}
	return nil
}

type protectedPath struct{ kind, path string }

// protectedForms lists the working directory, the home directory and the
// system directories whose real path differs from their name (a symlink
// such as /bin -> usr/bin or a symlinked work dir), in both forms.
func protectedForms(workDir, home string, deep, top []string) []protectedPath {
	var out []protectedPath
	add := func(kind, p string, both bool) {
		if p == "" {
			return
		}
		p = filepath.Clean(p)
		if both {
			out = append(out, protectedPath{kind, p})
		}
		if real, err := filepath.EvalSymlinks(p); err == nil && real != p {
			out = append(out, protectedPath{kind, real})
		}
	}
	add("work", workDir, true)
	if home != "/" {
		add("home", home, true)
	}
	for _, d := range deep {
		add("system", d, false)
	}
	for _, t := range top {
		add("system", "/"+t, false)
	}
	return out
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

// openSourceParent resolves the directory holding src under the symlink
// rule; src itself is never followed.
func openSourceParent(src string) (*fsutil.Parent, error) {
	sp, err := fsutil.OpenParent(src, false)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	return sp, nil
}

// openParent resolves (and with create, makes) the directory that will
// hold p, through fsutil's walk: the symlink rule applies on the way.
func openParent(p string, create bool) (*fsutil.Parent, error) {
	dp, err := fsutil.OpenParent(p, create)
	switch {
	case err == nil:
		return dp, nil
	case errors.Is(err, syscall.ENOTDIR):
		return nil, fmt.Errorf("parent %s is not a directory: %w", filepath.Dir(p), err)
	case errors.Is(err, os.ErrNotExist) && !create:
		return nil, fmt.Errorf("parent directory %s does not exist (pass create_dirs=true to create it)", filepath.Dir(p))
	}
	return nil, err
}

// renameAt renames relative to directory descriptors; noReplace refuses
// to replace anything that appeared at the destination meantime.
func renameAt(sfd int, sname string, dfd int, dname string, noReplace bool) error {
	if noReplace {
		err := unix.Renameat2(sfd, sname, dfd, dname, unix.RENAME_NOREPLACE)
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
			return err
		}
	}
	return unix.Renameat(sfd, sname, dfd, dname)
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
	if dfi.IsDir() || dfi.Mode()&os.ModeSymlink != 0 && fsutil.IsDir(dst) {
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
