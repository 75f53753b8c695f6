package tools

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"golang.org/x/sys/unix"

	"github.com/servagent/servagent/pkg/fsutil"
)

// DeletePathInput are the arguments of delete_path.
type DeletePathInput struct {
	Path      string `json:"path" jsonschema:"file, directory or symlink to delete"`
	Recursive bool   `json:"recursive,omitempty" jsonschema:"required to delete a non-empty directory and everything in it"`
}

// DeletePathOutput is the result of delete_path.
type DeletePathOutput struct {
	Path string `json:"path"`
	Type string `json:"type" jsonschema:"what was deleted: file, dir, symlink (the link only) or other"`
}

var deletePathTool = define(Tool{
	Name:  "delete_path",
	Title: "Delete a path",
	Description: "Delete a file, a symlink (the link, never its target) or a directory; a non-empty directory needs recursive=true. " +
		"Refuses /, the system directories (/etc, /usr, /var, ...), the server's working directory and its parents. There is no undo.",
	Hints: Hints{Destructive: true, Idempotent: true},
	Audit: []string{"path", "recursive"},
}, (*Env).deletePath)

func (e *Env) deletePath(ctx context.Context, _ *mcp.CallToolRequest, in DeletePathInput) (*mcp.CallToolResult, DeletePathOutput, error) {
	p, err := e.resolve(in.Path)
	if err != nil {
		return nil, DeletePathOutput{}, err
	}
	if err := e.checkProtected(p, "delete"); err != nil {
		return nil, DeletePathOutput{}, err
	}
	// The parent is reached under the symlink rule; the entry itself is
	// removed, never followed (deleting a symlink deletes the link).
	pp, err := fsutil.OpenParent(p, false)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, DeletePathOutput{}, fmt.Errorf("%s does not exist (nothing to delete)", p)
		}
		return nil, DeletePathOutput{}, err
	}
	defer pp.Close()
	lst, err := pp.Lstat()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, DeletePathOutput{}, fmt.Errorf("%s does not exist (nothing to delete)", p)
		}
		return nil, DeletePathOutput{}, err
	}
	out := DeletePathOutput{Path: p, Type: typeOf(lst)}
	switch {
	case out.Type == "dir" && in.Recursive:
		err = fsutil.RemoveAllAt(pp.Fd(), pp.Name())
	case out.Type == "dir":
		err = unix.Unlinkat(pp.Fd(), pp.Name(), unix.AT_REMOVEDIR)
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			return nil, DeletePathOutput{}, fmt.Errorf("%s is a non-empty directory: list it with list_directory, then pass recursive=true to delete it with everything inside", p)
		}
	default:
		err = unix.Unlinkat(pp.Fd(), pp.Name(), 0)
	}
	if err != nil {
		return nil, DeletePathOutput{}, fmt.Errorf("cannot delete %s: %w", p, err)
	}
	what := out.Type
	if out.Type == "symlink" {
		what = "symlink (its target was left alone)"
	}
	return textResult("deleted %s %s", what, p), out, nil
}
