package tools

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/servagent/servagent/pkg/textutil"
)

// auditValueMax bounds one shown value on the audit line.
const auditValueMax = 200

// AuditArgs describes a call's arguments for the audit line without
// printing content that may hold secrets: the arguments the tool's
// declaration names are shown (clipped), the command line by its program
// name, anything else by size.
func AuditArgs(tool string, raw json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return fmt.Sprintf("<%d bytes, not an object>", len(raw))
	}
	d, _ := Lookup(tool)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		v := m[k]
		b, _ := json.Marshal(v)
		switch {
		case d.Program != "" && k == d.Program:
			str, _ := v.(string)
			parts = append(parts, fmt.Sprintf("command=%q…(%d chars)", ProgramName(str), len(str)))
		case slices.Contains(d.Audit, k):
			shown := string(b)
			if len(shown) > auditValueMax {
				shown = textutil.ClipBytes(shown, auditValueMax)
			}
			parts = append(parts, k+"="+shown)
		default:
			parts = append(parts, fmt.Sprintf("%s=<%d bytes>", k, len(b)))
		}
	}
	return strings.Join(parts, " ")
}

// ProgramName is the program a shell command line runs, for the audit
// line: the first word after leading NAME=value assignments (which often
// carry secrets, PGPASSWORD=… psql), read with the shell's quoting rules so
// a quoted value with spaces is skipped whole. At most 40 bytes.
func ProgramName(cmd string) string {
	for _, w := range shellWords(cmd) {
		if name, _, ok := strings.Cut(w.text, "="); ok && w.assignable && validName(name) {
			continue
		}
		prog := w.text
		// A word with '=' that is not an assignment (!X=secret, 'A'=b) is
		// still likely to hold a value: show its name part only.
		if name, _, ok := strings.Cut(prog, "="); ok {
			prog = name + "=…"
		}
		return textutil.CutBytes(prog, 40)
	}
	return ""
}

// validName: a shell variable name ([A-Za-z_][A-Za-z0-9_]*).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

type shellWord struct {
	text string
	// assignable: the part before the first '=' was unquoted, so the shell
	// would read the word as an assignment.
	assignable bool
}

// shellWords splits a command line into words the way a POSIX shell
// tokenises the start of a simple command: blanks separate words; single
// quotes, double quotes and backslashes quote; an operator (; & | < > ( ))
// ends the words. Expansions are kept as written. Unterminated quotes run
// to the end.
func shellWords(s string) []shellWord {
	var words []shellWord
	var cur strings.Builder
	inWord, assignable, sawEq := false, true, false
	flush := func() {
		if inWord {
			words = append(words, shellWord{text: cur.String(), assignable: assignable})
		}
		cur.Reset()
		inWord, assignable, sawEq = false, true, false
	}
	quoted := func() {
		if !sawEq {
			assignable = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			flush()
		case strings.IndexByte(";&|<>()", c) >= 0:
			flush()
			return words
		case c == '\\' && i+1 < len(s):
			quoted()
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == '\'':
			quoted()
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				cur.WriteString(s[i+1:])
				i = len(s)
			} else {
				cur.WriteString(s[i+1 : i+1+j])
				i += j + 1
			}
		case c == '$' && i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '('),
			c == '`':
			// ${...}, $(...) and `...` belong to the word whole, blanks and
			// quotes inside included.
			quoted()
			inWord = true
			end := expansionEnd(s, i)
			cur.WriteString(s[i:end])
			i = end - 1
		case c == '"':
			quoted()
			inWord = true
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
		default:
			if c == '=' {
				sawEq = true
			}
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words
}

// expansionEnd returns the index just past the ${...}, $(...) or `...`
// that starts at i, counting nested brackets; unterminated runs to the end.
func expansionEnd(s string, i int) int {
	if s[i] == '`' {
		if j := strings.IndexByte(s[i+1:], '`'); j >= 0 {
			return i + 1 + j + 1
		}
		return len(s)
	}
	open, closer := s[i+1], byte('}')
	if open == '(' {
		closer = ')'
	}
	depth := 0
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case open:
			depth++
		case closer:
			depth--
			if depth == 0 {
				return j + 1
			}
		case '\\':
			j++
		}
	}
	return len(s)
}
