package tools

import (
	"context"
	"errors"
	"fmt"
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
	Description: "Create or replace a text file with `content`. Replacing is atomic (a temp file renamed over the target: readers and crashes see the old or the new content, never a mix) and keeps the existing file's mode and owner; new files get 0644. " +
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
	p, fi, err := writeTarget(p)
	if err != nil {
		return nil, WriteFileOutput{}, err
	}
	if err := prepareParent(p, in.CreateDirs == nil || *in.CreateDirs); err != nil {
		return nil, WriteFileOutput{}, err
	}
	out := WriteFileOutput{Path: p, BytesWritten: int64(len(in.Content)), Created: fi == nil, Appended: in.Append}
	if in.Append {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, WriteFileOutput{}, err
		}
		_, werr := f.Write([]byte(in.Content))
		cerr := f.Close()
		if werr != nil || cerr != nil {
			return nil, WriteFileOutput{}, fmt.Errorf("appending to %s: %v", p, errors.Join(werr, cerr))
		}
	} else if err := fsutil.WriteFile(p, []byte(in.Content), 0o644); err != nil {
		return nil, WriteFileOutput{}, fmt.Errorf("writing %s: %w (the previous content, if any, is unchanged)", p, err)
	}
	if st, err := os.Stat(p); err == nil {
		out.Size = st.Size()
		out.Mode = fmt.Sprintf("%04o", st.Mode().Perm())
	}
	verb := "wrote"
	if in.Append {
		verb = "appended"
	}
	return textResult("%s %d bytes to %s (size now %d bytes, mode %s)", verb, out.BytesWritten, p, out.Size, out.Mode), out, nil
}

// writeTarget is fsutil.ResolveWriteTarget: writes land in a symlink's
// target and never replace directories or special files.
var writeTarget = fsutil.ResolveWriteTarget
