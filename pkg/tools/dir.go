package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const (
	defaultListLimit = 5000
	maxListLimit     = 50000
	readDirBatch     = 256
	maxListErrors    = 100
)

// ListDirectoryInput are the arguments of list_directory.
type ListDirectoryInput struct {
	Path          string `json:"path,omitempty" jsonschema:"directory to list (default: the server's working directory)"`
	Recursive     bool   `json:"recursive,omitempty" jsonschema:"descend into subdirectories (symlinks are never followed)"`
	MaxDepth      int    `json:"max_depth,omitempty" jsonschema:"with recursive: how many levels to descend, 1 = direct entries only (default: unlimited, bounded by limit)"`
	IncludeHidden *bool  `json:"include_hidden,omitempty" jsonschema:"include entries whose name starts with a dot (default true)"`
	Limit         int    `json:"limit,omitempty" jsonschema:"maximum entries returned (default 5000, max 50000)"`
}

// DirEntry is one listed entry.
type DirEntry struct {
	Name       string `json:"name"`
	Path       string `json:"path" jsonschema:"path relative to the listed directory, / separated"`
	Type       string `json:"type" jsonschema:"file, dir, symlink or other"`
	Size       int64  `json:"size"`
	Mode       string `json:"mode" jsonschema:"permission bits in octal, e.g. 0644"`
	ModeString string `json:"mode_string" jsonschema:"ls-style mode, e.g. -rw-r--r--"`
	Mtime      string `json:"mtime" jsonschema:"modification time, RFC 3339"`
	Target     string `json:"target,omitempty" jsonschema:"symlink target"`
}

// DirError is an entry or directory that could not be read.
type DirError struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// ListDirectoryOutput is the result of list_directory.
type ListDirectoryOutput struct {
	Path      string     `json:"path"`
	Entries   []DirEntry `json:"entries"`
	Count     int        `json:"count"`
	Truncated bool       `json:"truncated" jsonschema:"true when the limit stopped the listing: entries are then the first ones read, sorted, not the first in sorted order"`
	Errors    []DirError `json:"errors,omitempty"`
	// ErrorsOmitted keeps a tree full of unreadable entries from flooding the reply.
	ErrorsOmitted int `json:"errors_omitted,omitempty" jsonschema:"errors beyond the first 100, not listed"`
}

var listDirectoryTool = define(Tool{
	Name:  "list_directory",
	Title: "List a directory",
	Description: "List a directory: name, relative path, type (file, dir, symlink with its target, other), size, mode, mtime; sorted by path. " +
		"recursive=true descends (never through symlinks) up to max_depth levels. At most `limit` entries (default 5000) are returned; truncated=true says more exist — narrow the path or depth rather than raising the limit. " +
		"Unreadable entries are listed under errors.",
	Hints: Hints{ReadOnly: true, Idempotent: true},
	Audit: []string{"path", "recursive", "limit"},
}, (*Env).listDirectory)

func (e *Env) listDirectory(ctx context.Context, _ *mcp.CallToolRequest, in ListDirectoryInput) (*mcp.CallToolResult, ListDirectoryOutput, error) {
	if strings.TrimSpace(in.Path) == "" {
		in.Path = "."
	}
	root, err := e.resolve(in.Path)
	if err != nil {
		return nil, ListDirectoryOutput{}, err
	}
	limit := in.Limit
	switch {
	case limit < 0:
		return nil, ListDirectoryOutput{}, errors.New("limit must be positive")
	case limit == 0:
		limit = defaultListLimit
	case limit > maxListLimit:
		return nil, ListDirectoryOutput{}, fmt.Errorf("limit %d is over the maximum %d: list subdirectories separately", limit, maxListLimit)
	}
	if in.MaxDepth < 0 {
		return nil, ListDirectoryOutput{}, errors.New("max_depth must be positive (1 = direct entries only)")
	}
	depth := 1
	if in.Recursive {
		depth = in.MaxDepth // 0: unlimited
	}
	fi, err := os.Stat(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ListDirectoryOutput{}, fmt.Errorf("%s does not exist: list its parent to check the name", root)
		}
		return nil, ListDirectoryOutput{}, err
	}
	if !fi.IsDir() {
		return nil, ListDirectoryOutput{}, fmt.Errorf("%s is not a directory: use read_file or read_file_binary", root)
	}
	l := lister{ctx: ctx, root: root, limit: limit, depth: depth, hidden: in.IncludeHidden == nil || *in.IncludeHidden}
	if err := l.walk("", 1); err != nil {
		if ctx.Err() != nil {
			return nil, ListDirectoryOutput{}, ctx.Err()
		}
		return nil, ListDirectoryOutput{}, fmt.Errorf("cannot read %s: %w", root, err)
	}
	slices.SortFunc(l.entries, func(a, b DirEntry) int { return strings.Compare(a.Path, b.Path) })
	out := ListDirectoryOutput{Path: root, Entries: l.entries, Count: len(l.entries), Truncated: l.truncated, Errors: l.errs, ErrorsOmitted: l.errsOver}
	if out.Entries == nil {
		out.Entries = []DirEntry{}
	}
	return listText(out, e.MaxOutputSize), out, nil
}

type lister struct {
	ctx       context.Context
	root      string
	limit     int
	depth     int // 0: unlimited
	hidden    bool
	entries   []DirEntry
	errs      []DirError
	errsOver  int
	truncated bool
}

func (l *lister) fail(rel string, err error) {
	if len(l.errs) >= maxListErrors {
		l.errsOver++
		return
	}
	if rel == "" {
		rel = "."
	}
	l.errs = append(l.errs, DirError{Path: rel, Error: errText(err)})
}

// walk lists rel (relative to root) in batches, stopping as soon as the limit
// is reached so a huge directory costs at most limit entries of memory.
// Subdirectories are descended after their parent is read; symlinks are
// reported, never followed, so link loops cannot recurse.
func (l *lister) walk(rel string, level int) error {
	dir := filepath.Join(l.root, filepath.FromSlash(rel))
	f, err := os.Open(dir)
	if err != nil {
		if rel == "" {
			return err
		}
		l.fail(rel, err)
		return nil
	}
	var subdirs []string
	for !l.truncated {
		if err := l.ctx.Err(); err != nil {
			f.Close()
			return err
		}
		batch, err := f.ReadDir(readDirBatch)
		for _, de := range batch {
			if !l.hidden && strings.HasPrefix(de.Name(), ".") {
				continue
			}
			if len(l.entries) >= l.limit {
				l.truncated = true
				break
			}
			p := path.Join(rel, de.Name())
			ent, ierr := entryOf(dir, de, p)
			if ierr != nil {
				l.fail(p, ierr)
				continue
			}
			l.entries = append(l.entries, ent)
			if ent.Type == "dir" && (l.depth == 0 || level < l.depth) {
				subdirs = append(subdirs, p)
			}
		}
		if err == io.EOF || (err == nil && len(batch) == 0) {
			break
		}
		if err != nil {
			l.fail(rel, err)
			break
		}
	}
	f.Close()
	for _, s := range subdirs {
		if l.truncated {
			break
		}
		if err := l.walk(s, level+1); err != nil {
			return err
		}
	}
	return nil
}

func entryOf(dir string, de os.DirEntry, rel string) (DirEntry, error) {
	info, err := de.Info() // lstat: a symlink describes itself
	if err != nil {
		return DirEntry{}, err
	}
	m := info.Mode()
	ent := DirEntry{
		Name: de.Name(), Path: rel, Size: info.Size(),
		Mode:       octalMode(m),
		ModeString: lsMode(m),
		Mtime:      info.ModTime().UTC().Format(time.RFC3339),
	}
	switch {
	case m.IsRegular():
		ent.Type = "file"
	case m.IsDir():
		ent.Type = "dir"
	case m&os.ModeSymlink != 0:
		ent.Type = "symlink"
		if t, err := os.Readlink(filepath.Join(dir, de.Name())); err == nil {
			ent.Target = t
		}
	default:
		ent.Type = "other"
	}
	return ent, nil
}

// octalMode includes setuid/setgid/sticky as the leading octal digit.
func octalMode(m os.FileMode) string {
	v := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		v |= 0o1000
	}
	return fmt.Sprintf("%04o", v)
}

// lsMode renders a mode like ls -l (Go's FileMode.String differs for
// devices and setuid bits).
func lsMode(m os.FileMode) string {
	b := []byte("----------")
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&os.ModeSymlink != 0:
		b[0] = 'l'
	case m&os.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&os.ModeSocket != 0:
		b[0] = 's'
	case m&os.ModeCharDevice != 0:
		b[0] = 'c'
	case m&os.ModeDevice != 0:
		b[0] = 'b'
	}
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		if m&(1<<uint(8-i)) != 0 {
			b[i+1] = rwx[i]
		}
	}
	special := func(i int, set bool, lower, upper byte) {
		if !set {
			return
		}
		if b[i] == 'x' {
			b[i] = lower
		} else {
			b[i] = upper
		}
	}
	special(3, m&os.ModeSetuid != 0, 's', 'S')
	special(6, m&os.ModeSetgid != 0, 's', 'S')
	special(9, m&os.ModeSticky != 0, 't', 'T')
	return string(b)
}

func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func listText(o ListDirectoryOutput, maxOut int64) *mcp.CallToolResult {
	if maxOut <= 0 {
		maxOut = 1_000_000
	}
	w := NewHeadTail(maxOut)
	fmt.Fprintf(w, "%s: %d entries", o.Path, o.Count)
	if o.Truncated {
		fmt.Fprintf(w, " (TRUNCATED at the limit: these are the first %d entries read, then sorted; more exist — list a subdirectory, lower max_depth or set include_hidden=false)", o.Count)
	}
	w.Write([]byte("\n"))
	for _, en := range o.Entries {
		name := en.Path
		switch en.Type {
		case "dir":
			name += "/"
		case "symlink":
			name += " -> " + en.Target
		}
		fmt.Fprintf(w, "%s %12d %s %s\n", en.ModeString, en.Size, en.Mtime, name)
	}
	if len(o.Errors) > 0 {
		fmt.Fprintf(w, "errors (%d):\n", len(o.Errors)+o.ErrorsOmitted)
		for _, er := range o.Errors {
			fmt.Fprintf(w, "  %s: %s\n", er.Path, er.Error)
		}
		if o.ErrorsOmitted > 0 {
			fmt.Fprintf(w, "  ... and %d more\n", o.ErrorsOmitted)
		}
	}
	return textResult("%s", w.String())
}
