// Package skills loads operator-written notes ("skills") that servagent adds
// to the MCP server instructions: every <dir>/<name>/SKILL.md, in name order.
//
// Nothing is cached: Load and Render read the directory on every call, so the
// caller (one call per new MCP session) sees an edited SKILL.md without a
// restart.
//
// Rules applied by Load:
//   - only directories directly under dir count; names starting with '.' are
//     ignored silently, other names that fail ValidName are skipped with a
//     warning (the CLI could not address them);
//   - a directory without SKILL.md is not a skill and is skipped silently;
//   - an empty or whitespace-only SKILL.md is skipped;
//   - a SKILL.md that cannot be read (including a dangling symlink, a
//     directory, a FIFO or a device) is logged at Warn and skipped;
//   - content is used as-is when its first non-blank line is a markdown
//     heading ('#'); otherwise it is prefixed with "### <name>";
//   - a skill is cut at MaxSkillBytes and all skills together at
//     MaxTotalBytes, with a note in the text and a warning in the log.
//
// Symlinks are followed, both for a skill directory and for SKILL.md, even
// when they point outside dir: the file is read with the server's own
// permissions and the AI can already read anything the server user can, so a
// link discloses nothing new, and operators may keep skills elsewhere (e.g.
// in a config repository). Only regular files are read, so a link to a FIFO
// or a device cannot block the server or feed it endless data.
package skills

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/servagent/servagent/pkg/textutil"
)

const (
	// FileName is the file each skill directory must contain.
	FileName = "SKILL.md"
	// MaxSkillBytes caps one skill's file content sent to the AI.
	MaxSkillBytes = 64 << 10
	// MaxTotalBytes caps all skills together, so the instructions stay small.
	MaxTotalBytes = 256 << 10
	// MaxNameLen is the longest accepted skill name.
	MaxNameLen = 64

	// minBudget: below this much room left in the total, a skill is dropped
	// rather than reduced to a useless stub.
	minBudget = 1 << 10
)

// Skill is one loaded skill. Content is ready to insert: trimmed, capped and
// with the heading rule applied.
type Skill struct {
	Name    string // directory name
	Path    string // path of its SKILL.md
	Content string
}

// ValidName reports whether name can be a skill name: 1 to 64 characters
// from [A-Za-z0-9._-], not starting with '.' or '-'. That excludes path
// separators, "." and "..", and names a shell would read as a flag.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("skill name is empty")
	case len(name) > MaxNameLen:
		return fmt.Errorf("skill name %q is longer than %d characters", name, MaxNameLen)
	}
	// Characters first, so "../x" is reported for its '/'.
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("skill name %q contains %q; use letters, digits, '.', '_' and '-'", name, r)
		}
	}
	if name[0] == '.' || name[0] == '-' {
		return fmt.Errorf("skill name %q must not start with %q", name, name[0])
	}
	return nil
}

// Names returns the valid names of directories under dir that contain a
// SKILL.md entry, sorted. It does not read the files. A missing dir yields an
// error wrapping fs.ErrNotExist.
func Names(dir string) ([]string, error) {
	names, _, err := scan(dir)
	return names, err
}

// scan lists candidate skill directories; invalid holds the non-dot names
// that failed ValidName, for the caller to report.
func scan(dir string) (names, invalid []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		// Stat, not e.IsDir(): a symlink to a directory counts as a skill dir.
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.IsDir() {
			continue
		}
		if _, err := os.Lstat(filepath.Join(dir, name, FileName)); err != nil {
			continue
		}
		if ValidName(name) != nil {
			invalid = append(invalid, name)
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names) // ReadDir already sorts; keep the guarantee explicit.
	return names, invalid, nil
}

// Load reads the skills under dir; see the package comment for the rules.
// A missing dir means no skills. A nil logger discards, as every servagent
// package's does: only the command decides where logs go.
func Load(dir string, logger *slog.Logger) []Skill {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if dir == "" {
		return nil
	}
	names, invalid, err := scan(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			logger.Warn("cannot read skills directory", "path", dir, "err", err)
		}
		return nil
	}
	for _, name := range invalid {
		logger.Warn("skipping directory with an invalid skill name (use letters, digits, '.', '_', '-')",
			"path", filepath.Join(dir, name))
	}

	var out []Skill
	total := 0
	for _, name := range names {
		path := filepath.Join(dir, name, FileName)
		raw, size, err := readCapped(path, MaxSkillBytes)
		if err != nil {
			logger.Warn("cannot read skill, skipping it", "path", path, "err", err)
			continue
		}
		content := trim(raw)
		if content == "" {
			logger.Debug("empty skill skipped", "path", path)
			continue
		}
		if size > MaxSkillBytes {
			logger.Warn("skill too large, truncated", "path", path, "size", size, "limit", MaxSkillBytes)
			content = cut(content, MaxSkillBytes) + truncNote(path, size)
		}
		if !startsWithHeading(content) {
			content = "### " + name + "\n\n" + content
		}
		// +2 for the blank line Render puts between skills.
		if total+len(content)+2 > MaxTotalBytes {
			room := MaxTotalBytes - total - 2
			note := truncNote(path, size)
			if room-len(note) < minBudget {
				logger.Warn("total size limit reached, skill left out", "path", path, "limit", MaxTotalBytes)
				continue
			}
			logger.Warn("total size limit reached, skill truncated", "path", path, "limit", MaxTotalBytes)
			content = cut(content, room-len(note)) + note
		}
		total += len(content) + 2
		out = append(out, Skill{Name: name, Path: path, Content: content})
	}
	return out
}

// Render returns the "## Skills" section for the instructions, ending with a
// newline, or "" when there are no skills.
func Render(dir string, logger *slog.Logger) string {
	list := Load(dir, logger)
	if len(list) == 0 {
		return ""
	}
	parts := make([]string, len(list))
	for i, s := range list {
		parts[i] = s.Content
	}
	return "## Skills\n\n" + strings.Join(parts, "\n\n") + "\n"
}

// readCapped reads at most limit+1 bytes of a regular file and returns them
// with the file's size. O_NONBLOCK keeps open() of a FIFO from hanging; it
// has no effect on regular files.
func readCapped(path string, limit int64) ([]byte, int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, 0, err
	}
	size := fi.Size()
	if int64(len(b)) > size { // grew since fstat
		size = int64(len(b))
	}
	return b, size, nil
}

// trim drops leading blank lines and trailing whitespace, keeping the first
// line's indentation (it can matter in markdown).
func trim(b []byte) string {
	s := strings.TrimRight(string(b), " \t\r\n\f\v")
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 || strings.TrimSpace(s[:i]) != "" {
			break
		}
		s = s[i+1:]
	}
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return s
}

// startsWithHeading reports whether the first line (s has no leading blank
// lines) is a markdown heading.
func startsWithHeading(s string) bool {
	return strings.HasPrefix(strings.TrimLeft(s, " \t"), "#")
}

// cut shortens s to at most n bytes, preferring a line end in the second half
// and never splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = textutil.CutBytes(s, n)
	if i := strings.LastIndexByte(s, '\n'); i > n/2 {
		return strings.TrimRight(s[:i], " \t\r\n")
	}
	return s
}

// truncNote tells the AI where the rest is, so it can read the file itself.
func truncNote(path string, size int64) string {
	return fmt.Sprintf("\n\n[... truncated by servagent: %s is %d bytes; read that file for the rest]", path, size)
}
