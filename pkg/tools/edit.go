package tools

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/servagent/servagent/pkg/fsutil"
	"github.com/servagent/servagent/pkg/textedit"
)

// EditFileInput are the arguments of edit_file.
type EditFileInput struct {
	Path                 string `json:"path" jsonschema:"file to edit"`
	OldString            string `json:"old_string" jsonschema:"exact text to replace, including indentation; include enough surrounding lines to make it unique"`
	NewString            string `json:"new_string" jsonschema:"replacement text"`
	ExpectedReplacements *int   `json:"expected_replacements,omitempty" jsonschema:"how many occurrences old_string must have (default 1); the edit is refused when the count differs"`
}

// EditFileOutput is the result of edit_file.
type EditFileOutput struct {
	Path          string `json:"path"`
	Replacements  int    `json:"replacements"`
	LineEndings   string `json:"line_endings" jsonschema:"lf or crlf; crlf files are matched on normalised \\n and written back with \\r\\n"`
	Diff          string `json:"diff" jsonschema:"unified diff of the change, capped"`
	DiffTruncated bool   `json:"diff_truncated"`
}

var editFileTool = define(Tool{
	Name:  "edit_file",
	Title: "Edit a file",
	Description: "Replace an exact string in a file: old_string must occur exactly expected_replacements times (default 1), otherwise nothing is changed and the reply shows the closest lines. " +
		"After a failed edit, re-read the file with read_file and copy the exact text; do not retry the same old_string. " +
		"CRLF files are matched with \\n line endings and keep CRLF. The write is atomic and keeps the mode and owner. Returns a unified diff of the change.",
	Hints: Hints{Destructive: true},
	Audit: []string{"path"},
}, (*Env).editFile)

func (e *Env) editFile(ctx context.Context, _ *mcp.CallToolRequest, in EditFileInput) (*mcp.CallToolResult, EditFileOutput, error) {
	p, err := e.resolve(in.Path)
	if err != nil {
		return nil, EditFileOutput{}, err
	}
	if in.OldString == "" {
		return nil, EditFileOutput{}, errors.New("old_string is empty: to create or overwrite a whole file use write_file")
	}
	if in.OldString == in.NewString {
		return nil, EditFileOutput{}, errors.New("old_string and new_string are identical: nothing to change")
	}
	expected := 1
	if in.ExpectedReplacements != nil {
		expected = *in.ExpectedReplacements
		if expected < 1 {
			return nil, EditFileOutput{}, errors.New("expected_replacements must be at least 1")
		}
	}
	p, fi, err := writeTarget(p)
	if err != nil {
		return nil, EditFileOutput{}, err
	}
	if fi == nil {
		return nil, EditFileOutput{}, fmt.Errorf("%s does not exist: create it with write_file", p)
	}
	if fi.Size() > editMaxSize {
		return nil, EditFileOutput{}, fmt.Errorf("%s is %d bytes, over edit_file's %d-byte limit: use execute_command with sed, or rewrite it in parts", p, fi.Size(), editMaxSize)
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, EditFileOutput{}, err
	}
	if looksBinary(raw[:min(len(raw), binarySample)], len(raw) <= binarySample) {
		return nil, EditFileOutput{}, fmt.Errorf("%s looks binary: edit_file only edits text; use write_file_binary", p)
	}
	text := string(raw)
	crlf := isCRLF(text)
	oldS, newS := in.OldString, in.NewString
	// A CRLF file is matched on \n; a file without any \r also accepts an
	// old_string sent with CRLF line endings.
	if crlf || !strings.Contains(text, "\r") {
		oldS = strings.ReplaceAll(oldS, "\r\n", "\n")
		newS = strings.ReplaceAll(newS, "\r\n", "\n")
	}
	if crlf {
		text = strings.ReplaceAll(text, "\r\n", "\n")
	}
	if oldS == newS {
		return nil, EditFileOutput{}, errors.New("old_string and new_string differ only in line endings: nothing to change")
	}
	count := strings.Count(text, oldS)
	if count != expected {
		return nil, EditFileOutput{}, editMismatch(p, text, oldS, count, expected)
	}
	result := strings.Replace(text, oldS, newS, expected)
	diff := NewHeadTail(diffCap(e.MaxOutputSize))
	textedit.UnifiedDiff(diff, p, text, oldS, newS, expected)
	if crlf {
		result = strings.ReplaceAll(result, "\n", "\r\n")
	}
	if err := fsutil.WriteFile(p, []byte(result), fi.Mode().Perm()); err != nil {
		return nil, EditFileOutput{}, fmt.Errorf("writing %s: %w (the file is unchanged)", p, err)
	}
	out := EditFileOutput{Path: p, Replacements: expected, LineEndings: "lf", Diff: diff.String(), DiffTruncated: diff.Omitted() > 0}
	if crlf {
		out.LineEndings = "crlf"
	}
	return textResult("edited %s: %d replacement(s)\n%s", p, expected, out.Diff), out, nil
}

func diffCap(maxOut int64) int64 {
	const c = 16 << 10
	if maxOut > 0 && maxOut < c {
		return maxOut
	}
	return c
}

// isCRLF: the file uses CRLF when every \n is preceded by \r.
func isCRLF(s string) bool {
	n := strings.Count(s, "\n")
	return n > 0 && strings.Count(s, "\r\n") == n
}

// editMismatch explains a wrong match count and shows where old_string might
// have been meant, so the model re-reads instead of guessing again.
func editMismatch(p, text, old string, count, expected int) error {
	var b strings.Builder
	if count == 0 {
		fmt.Fprintf(&b, "old_string was not found in %s; nothing was changed.", p)
		if near := textedit.NearMatches(text, old, 3); near != "" {
			b.WriteString(" Closest lines to its first line:\n" + near)
		}
		b.WriteString("\nRe-read the file with read_file and copy the exact text (whitespace and indentation included); do not retry the same old_string.")
		return errors.New(b.String())
	}
	fmt.Fprintf(&b, "old_string occurs %d times in %s but expected_replacements is %d; nothing was changed. Occurrences start at lines:", count, p, expected)
	idx, shown := 0, 0
	for shown < 20 {
		i := strings.Index(text[idx:], old)
		if i < 0 {
			break
		}
		fmt.Fprintf(&b, " %d", strings.Count(text[:idx+i], "\n")+1)
		idx += i + len(old)
		shown++
	}
	if count > shown {
		b.WriteString(" ...")
	}
	fmt.Fprintf(&b, ".\nInclude more surrounding lines in old_string to make it unique, or pass expected_replacements=%d to replace all of them.", count)
	return errors.New(b.String())
}
