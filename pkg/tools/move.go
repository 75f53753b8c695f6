package tools

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/fsutil"
)

// MovePathInput are the arguments of move_path.
type MovePathInput struct {
	Source      string `json:"source" jsonschema:"file, directory or symlink to move"`
	Destination string `json:"destination" jsonschema:"new path (the full path, not the directory to move into)"`
	CreateDirs  *bool  `json:"create_dirs,omitempty" jsonschema:"create missing parent directories of destination (default true)"`
}

// MovePathOutput is the result of move_path.
type MovePathOutput struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Type        string `json:"type" jsonschema:"file, dir, symlink or other"`
	Method      string `json:"method" jsonschema:"rename, or copy+delete across filesystems"`
	Overwrote   bool   `json:"overwrote" jsonschema:"true when an existing destination file was replaced"`
}

var movePathTool = define(Tool{
	Name:  "move_path",
	Title: "Move or rename a path",
	Description: "Move or rename a file, directory or symlink. destination is the full new path; an existing destination file is replaced, an existing destination directory is refused. " +
		"Across filesystems the source is copied (modes, owners, mtimes, symlinks kept) then deleted. System directories cannot be moved.",
	Hints: Hints{Destructive: true},
	Audit: []string{"source", "destination"},
}, (*Env).movePath)

func (e *Env) movePath(ctx context.Context, req *mcp.CallToolRequest, in MovePathInput) (*mcp.CallToolResult, MovePathOutput, error) {
	src, dst, sfi, err := e.srcDst(in.Source, in.Destination, "move")
	if err != nil {
		return nil, MovePathOutput{}, err
	}
	if err := e.checkProtected(src, "move"); err != nil {
		return nil, MovePathOutput{}, err
	}
	out := MovePathOutput{Source: src, Destination: dst, Type: typeName(sfi.Mode()), Method: "rename"}
	if out.Overwrote, err = e.checkDestination(sfi, src, dst, "move"); err != nil {
		return nil, MovePathOutput{}, err
	}
	sp, err := openSourceParent(src)
	if err != nil {
		return nil, MovePathOutput{}, err
	}
	defer sp.Close()
	dp, err := openParent(dst, in.CreateDirs == nil || *in.CreateDirs)
	if err != nil {
		return nil, MovePathOutput{}, err
	}
	defer dp.Close()
	err = renameAt(sp.Fd(), sp.Name(), dp.Fd(), dp.Name(), !out.Overwrote)
	if errors.Is(err, syscall.EXDEV) {
		out.Method = "copy+delete"
		stop := e.reportProgress(ctx, req, "moving across filesystems")
		var st copyStats
		err = copyInto(ctx, sp, dp, dst, sfi, true, &st)
		stop()
		if err != nil {
			dp.RemoveCreated()
			return nil, MovePathOutput{}, fmt.Errorf("moving %s to another filesystem failed while copying (the source is intact, nothing was left at the destination): %w", src, err)
		}
		if err := fsutil.RemoveAllAt(sp.Fd(), sp.Name()); err != nil {
			return nil, MovePathOutput{}, fmt.Errorf("copied %s to %s but could not delete all of the source: %w. The destination is complete; delete the rest of the source with delete_path", src, dst, err)
		}
	} else if err != nil {
		dp.RemoveCreated()
		return nil, MovePathOutput{}, fmt.Errorf("cannot move %s to %s: %w", src, dst, err)
	}
	return textResult("moved %s to %s (%s, %s)", src, dst, out.Type, out.Method), out, nil
}
