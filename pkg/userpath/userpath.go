// Package userpath turns a path written by a client (a tool argument, the
// path field of POST /upload, the ?path= of GET /download) into the clean
// absolute path servagent acts on. Every entry point uses the same rules, so
// a path means the same thing whichever way it arrives.
package userpath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrEmpty is returned for an empty (or all-blank) path.
var ErrEmpty = errors.New("path is empty")

// Resolver resolves client paths against a working directory.
type Resolver struct {
	// WorkDir is the base of relative paths.
	WorkDir string
	// Home returns the directory "~" stands for; nil means os.UserHomeDir.
	Home func() (string, error)
}

// Resolve applies the rules: surrounding blanks are dropped (clients often
// paste a trailing newline), a NUL byte is refused, "~" and "~/..." expand
// to the server user's home, and a relative path is taken from WorkDir.
// Symlinks are not resolved here: whether to follow one is the caller's
// decision, made on the open file.
func (r Resolver) Resolve(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return "", fmt.Errorf("%w: give an absolute path or one relative to %s", ErrEmpty, r.WorkDir)
	}
	if strings.ContainsRune(p, 0) {
		return "", errors.New("path contains a NUL byte")
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		home := r.Home
		if home == nil {
			home = os.UserHomeDir
		}
		h, err := home()
		if err != nil {
			return "", fmt.Errorf("cannot expand ~: %w", err)
		}
		if !filepath.IsAbs(h) { // a relative $HOME would land under WorkDir
			return "", fmt.Errorf("cannot expand ~: the home directory %q is not an absolute path", h)
		}
		p = filepath.Join(h, strings.TrimPrefix(p, "~"))
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.WorkDir, p)
	}
	return filepath.Clean(p), nil
}
