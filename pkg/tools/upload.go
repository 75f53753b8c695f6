package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/fsutil"
)

// UploadFileInput are the arguments of upload_file.
type UploadFileInput struct {
	SourcePath      string `json:"source_path" jsonschema:"existing file on the server to copy"`
	DestinationPath string `json:"destination_path" jsonschema:"where to write the copy"`
	CreateDirs      *bool  `json:"create_dirs,omitempty" jsonschema:"create missing parent directories (default true)"`
}

// UploadFileOutput is the result of upload_file.
type UploadFileOutput struct {
	Path         string `json:"path"`
	BytesWritten int64  `json:"bytes_written"`
	SHA256       string `json:"sha256"`
	Mode         string `json:"mode"`
}

var uploadFileTool = define(Tool{
	Name:  "upload_file",
	Title: "Copy a file on the server",
	Description: "Copy a file from one path to another on the server, atomically (the destination is never half-written) and keeping the source's permission bits. " +
		"To send a file from the client machine, use the HTTP endpoint POST /upload or write_file_binary instead.",
	Hints: Hints{Destructive: true, Idempotent: true},
	Audit: []string{"source_path", "destination_path"},
}, (*Env).uploadFile)

func (e *Env) uploadFile(ctx context.Context, _ *mcp.CallToolRequest, in UploadFileInput) (*mcp.CallToolResult, UploadFileOutput, error) {
	src, err := e.resolve(in.SourcePath)
	if err != nil {
		return nil, UploadFileOutput{}, fmt.Errorf("source_path: %w", err)
	}
	dst, err := e.resolve(in.DestinationPath)
	if err != nil {
		return nil, UploadFileOutput{}, fmt.Errorf("destination_path: %w", err)
	}
	createDirs := in.CreateDirs == nil || *in.CreateDirs
	out, err := CopyFileAtomic(ctx, src, dst, createDirs, e.UploadMaxSize)
	if err != nil {
		return nil, UploadFileOutput{}, err
	}
	return textResult("copied %s to %s (%d bytes, sha256 %s, mode %s)", src, dst, out.BytesWritten, out.SHA256, out.Mode), out, nil
}

// ErrTooLarge is returned when a copy or upload exceeds its size limit.
var ErrTooLarge = errors.New("file is larger than the upload limit")

// CopyFileAtomic copies src to dst through a temp file in dst's directory,
// refusing files larger than limit (limit <= 0: no limit).
func CopyFileAtomic(ctx context.Context, src, dst string, createDirs bool, limit int64) (UploadFileOutput, error) {
	// Read under the same rules as read_file: the symlink rule on the way,
	// no special file (opening never blocks on a FIFO), type and mode from
	// the opened descriptor.
	in, fi, err := fsutil.Open(src)
	if err != nil {
		if errors.Is(err, fsutil.ErrRefused) {
			return UploadFileOutput{}, fmt.Errorf("source %s: %w (upload_file copies one regular file; use copy_path for directories)", src, err)
		}
		return UploadFileOutput{}, fmt.Errorf("cannot open source: %w", err)
	}
	defer in.Close()
	if limit > 0 && fi.Size() > limit {
		return UploadFileOutput{}, fmt.Errorf("%w: %s is %d bytes, SERVAGENT_UPLOAD_MAX_SIZE is %d", ErrTooLarge, src, fi.Size(), limit)
	}
	if st, err := os.Stat(dst); err == nil && st.IsDir() {
		return UploadFileOutput{}, fmt.Errorf("destination %s is a directory: give the full file path, e.g. %s", dst, filepath.Join(dst, filepath.Base(src)))
	}
	// A destination symlink gets its target written (under fsutil's symlink
	// rule), not replaced by a file; the copy takes the source's mode.
	a, err := fsutil.Create(dst, fsutil.Options{Perm: fi.Mode().Perm(), ForceMode: true, CreateDirs: createDirs})
	if err != nil {
		return UploadFileOutput{}, fmt.Errorf("cannot write destination: %w", writeErr(err, createDirs))
	}
	dst = a.Path
	h := sha256.New()
	r := io.Reader(in)
	if limit > 0 {
		r = io.LimitReader(in, limit+1)
	}
	n, err := io.Copy(io.MultiWriter(a, h), &ctxReader{ctx: ctx, r: r})
	if err == nil && limit > 0 && n > limit {
		err = fmt.Errorf("%w: %s grew past %d bytes while copying", ErrTooLarge, src, limit)
	}
	if err != nil {
		a.Abort()
		return UploadFileOutput{}, err
	}
	if err := a.Commit(); err != nil {
		return UploadFileOutput{}, err
	}
	return UploadFileOutput{Path: dst, BytesWritten: n, SHA256: hex.EncodeToString(h.Sum(nil)), Mode: fmt.Sprintf("%04o", fi.Mode().Perm())}, nil
}

// ctxReader stops a long copy when the call is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
