package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/servagent/servagent/pkg/fsutil"
	"github.com/servagent/servagent/pkg/textutil"
)

// ReadEnvFile parses a .env file: KEY=VALUE lines, `#` comments, an optional
// `export ` prefix, and single- or double-quoted values. A missing file
// yields (nil, nil); any other read error is returned.
func ReadEnvFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading env file %s: %w", path, err)
	}
	return ParseEnv(data)
}

// EnvFileError refuses an env file that someone other than this user (or
// root) controls: its settings choose the API key, the address and the tools.
type EnvFileError struct {
	Path    string
	Problem string
}

func (e *EnvFileError) Error() string { return "refusing env file " + e.Path + ": " + e.Problem }

// readTrustedEnvFile is ReadEnvFile for the file serve runs with: it refuses a
// file not owned by this user or root, or writable by other users (a .env in
// a cloned repository, a shared directory), and returns a warning when other
// users can read it. Owner and mode come from the descriptor that is read,
// so a file swapped in between cannot pass the check. A missing file yields
// (nil, "", nil).
func readTrustedEnvFile(path string) (vals map[string]string, warning string, err error) {
	// Non-blocking, so a FIFO planted under the name cannot hang startup;
	// anything but a regular file is refused below.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading env file %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("reading env file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, "", &EnvFileError{Path: path, Problem: fmt.Sprintf("not a regular file (%s); settings are read only from a regular file", fi.Mode().Type())}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := checkEnvFileOwner(path, fi.Mode().Perm(), st); err != nil {
			return nil, "", err
		}
	}
	if perm := fi.Mode().Perm(); perm&0o044 != 0 {
		warning = fmt.Sprintf("env file %s is readable by other users (mode %04o); it may hold secrets: chmod 600 %s", path, perm, path)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, "", fmt.Errorf("reading env file %s: %w", path, err)
	}
	vals, err = ParseEnv(data)
	if err != nil {
		return nil, "", err
	}
	return vals, warning, nil
}

func checkEnvFileOwner(path string, perm os.FileMode, st *syscall.Stat_t) error {
	euid := os.Geteuid()
	if int(st.Uid) != euid && st.Uid != 0 {
		return &EnvFileError{Path: path, Problem: fmt.Sprintf("owned by uid %d, not by you (uid %d) or root; chown it or pass --env-file with your own", st.Uid, euid)}
	}
	// Group write is tolerated only for this process's own group (the
	// private group a umask of 002 gives every user file).
	if perm&0o002 != 0 || (perm&0o020 != 0 && int(st.Gid) != os.Getegid()) {
		return &EnvFileError{Path: path, Problem: fmt.Sprintf("writable by other users (mode %04o); chmod 600 %s", perm, path)}
	}
	return nil
}

// ParseEnv parses the content of a .env file.
func ParseEnv(data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		key, val, ok, err := parseEnvLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if ok {
			out[key] = val
		}
	}
	return out, sc.Err()
}

func parseEnvLine(line string) (key, val string, ok bool, err error) {
	s := strings.TrimSpace(strings.TrimSuffix(line, "\r"))
	if s == "" || strings.HasPrefix(s, "#") {
		return "", "", false, nil
	}
	s = strings.TrimPrefix(s, "export ")
	k, v, found := strings.Cut(s, "=")
	if !found {
		return "", "", false, fmt.Errorf("expected KEY=VALUE, got %q", textutil.Clip(s, 41))
	}
	key = strings.TrimSpace(k)
	if key == "" || strings.ContainsAny(key, " \t\"'") {
		return "", "", false, fmt.Errorf("invalid variable name %q", key)
	}
	v = strings.TrimSpace(v)
	switch {
	case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
		v = strings.NewReplacer(`\n`, "\n", `\"`, `"`, `\\`, `\`).Replace(v[1 : len(v)-1])
	case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
		v = v[1 : len(v)-1]
	default:
		// An unquoted value may carry a trailing " # comment".
		if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
	}
	return key, v, true, nil
}

// UpdateEnvFile sets the given variables in the .env file at path, in place:
// a line that defines one of them is rewritten, every other line (comments,
// other variables, blank lines) is kept as it was, and variables not yet in
// the file are appended. The file keeps its mode and owner; a new file is
// created 0600. The replacement is atomic.
func UpdateEnvFile(path string, set map[string]string) error {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading env file %s: %w", path, err)
	}
	var out bytes.Buffer
	done := map[string]bool{}
	if len(data) > 0 {
		lines := strings.SplitAfter(string(data), "\n")
		for _, line := range lines {
			if line == "" {
				continue
			}
			key, _, ok, _ := parseEnvLine(strings.TrimRight(line, "\r\n"))
			if v, want := set[key]; ok && want {
				if !done[key] {
					out.WriteString(key + "=" + quoteEnv(v) + "\n")
					done[key] = true
				}
				continue
			}
			out.WriteString(line)
			if !strings.HasSuffix(line, "\n") {
				out.WriteString("\n")
			}
		}
	}
	for _, key := range sortedKeys(set) {
		if !done[key] {
			out.WriteString(key + "=" + quoteEnv(set[key]) + "\n")
		}
	}
	return fsutil.WriteFile(path, out.Bytes(), 0o600)
}

// quoteEnv quotes a value only when a reader would otherwise misparse it.
func quoteEnv(v string) string {
	if v == "" || strings.ContainsAny(v, " \t#\"'\\\n") {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
	}
	return v
}
