package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/servagent/servagent/pkg/fsutil"
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
		return "", "", false, fmt.Errorf("expected KEY=VALUE, got %q", truncateForError(s))
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

func truncateForError(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
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
