package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/servagent/servagent/pkg/fsutil"
)

// WriteFileInput are the arguments of write_file.
type WriteFileInput struct {
	Path       string `json:"path" jsonschema:"file to write (absolute, or relative to the server's working directory)"`
	Content    string `json:"content" jsonschema:"the complete new content (or the text to append)"`
	CreateDirs *bool  `json:"create_dirs,omitempty" jsonschema:"create missing parent directories (default true)"`
	Append     bool   `json:"append,omitempty" jsonschema:"append to the file instead of replacing it (default false)"`
}

// WriteFileOutput is the result of write_file.
type WriteFileOutput struct {
	Path         string `json:"path"`
	BytesWritten int64  `json:"bytes_written"`
	Size         int64  `json:"size" jsonschema:"file size after the write"`
	Created      bool   `json:"created"`
	Appended     bool   `json:"appended"`
	Mode         string `json:"mode"`
}

var writeFileTool = define(Tool{
	Name:  "write_file",
	Title: "Write a text file",
	Description: "Create or replace a text file with `content`. Replacing is atomic (a temp file renamed over the target: readers and crashes see the old or the new content, never a mix) and keeps the existing file's mode (minus setuid/setgid) and owner; new files get 0644. " +
		"append=true adds to the end with O_APPEND in a single write instead (not an atomic replace). Parent directories are created unless create_dirs=false. " +
		"Use this rather than shell heredocs or echo redirections; for small changes to an existing file prefer edit_file.",
	Hints: Hints{Destructive: true},
	Audit: []string{"path"},
}, (*Env).writeFile)

func (e *Env) writeFile(ctx context.Context, _ *mcp.CallToolRequest, in WriteFileInput) (*mcp.CallToolResult, WriteFileOutput, error) {
	p, err := e.resolve(in.Path)
	if err != nil {
		return nil, WriteFileOutput{}, err
	}
	createDirs := in.CreateDirs == nil || *in.CreateDirs
	opt := fsutil.Options{Perm: 0o644, CreateDirs: createDirs}
	out := WriteFileOutput{BytesWritten: int64(len(in.Content)), Appended: in.Append}
	note := ""
	if in.Append {
		f, created, err := fsutil.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, opt)
		if err != nil {
			return nil, WriteFileOutput{}, writeErr(err, createDirs)
		}
		_, werr := f.Write([]byte(in.Content))
		var st os.FileInfo
		if werr == nil {
			st, werr = f.Stat()
		}
		cerr := f.Close()
		if werr != nil || cerr != nil {
			return nil, WriteFileOutput{}, fmt.Errorf("appending to %s: %w", f.Name(), errors.Join(werr, cerr))
		}
		out.Path, out.Created, out.Size, out.Mode = f.Name(), created, st.Size(), fmt.Sprintf("%04o", st.Mode().Perm())
	} else {
		res, err := fsutil.Replace(p, opt, func(w io.Writer) error { _, err := io.WriteString(w, in.Content); return err })
		if err != nil {
			return nil, WriteFileOutput{}, fmt.Errorf("writing %s: %w (the previous content, if any, is unchanged)", p, writeErr(err, createDirs))
		}
		out.Path, out.Created, out.Size, out.Mode = res.Path, !res.Replaced, int64(len(in.Content)), fmt.Sprintf("%04o", res.Mode.Perm())
		note = droppedNote(res.Dropped)
	}
	verb := "wrote"
	if in.Append {
		verb = "appended"
	}
	return textResult("%s %d bytes to %s (size now %d bytes, mode %s)%s", verb, out.BytesWritten, out.Path, out.Size, out.Mode, note), out, nil
}

// writeErr adds the hint a missing parent needs.
func writeErr(err error, createDirs bool) error {
	if !createDirs && errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w (pass create_dirs=true to create it)", err)
	}
	return err
}

// droppedNote tells the model that a replaced file's setuid/setgid bits
// were not carried onto the new content.
func droppedNote(dropped os.FileMode) string {
	if dropped == 0 {
		return ""
	}
	return "; the replaced file's setuid/setgid bits were dropped (new content never inherits them): chmod again if they are wanted"
}
