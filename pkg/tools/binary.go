package tools

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/fsutil"
)

const (
	// maxBinaryChunk keeps a reply (base64 in both the text and the
	// structured content, 2 x 4/3 x 1 MiB) well under the SDK's 4 MiB comfort.
	maxBinaryChunk = 1 << 20
	minBinaryChunk = 4 << 10
	// wholeHashLimit: above this, hashing the whole file on every chunk
	// would make a chunked transfer quadratic, so it is done on request only.
	wholeHashLimit = 256 << 20
	// writeHashLimit is lower: write_file_binary hashes after every chunk,
	// so a chunked upload of n bytes hashes about n*n/(2*chunk) bytes.
	writeHashLimit = 64 << 20
)

// binaryChunk is the largest raw chunk per call: 1 MiB, or less when
// SERVAGENT_MAX_OUTPUT_SIZE cannot hold its base64 form.
func (e *Env) binaryChunk() int64 {
	c := int64(maxBinaryChunk)
	if e.MaxOutputSize > 0 && e.MaxOutputSize*3/4 < c {
		c = e.MaxOutputSize * 3 / 4
	}
	return max(c, minBinaryChunk)
}

// ReadFileBinaryInput are the arguments of read_file_binary.
type ReadFileBinaryInput struct {
	Path       string `json:"path" jsonschema:"file to read"`
	Offset     int64  `json:"offset,omitempty" jsonschema:"byte offset to start at (default 0)"`
	Length     int64  `json:"length,omitempty" jsonschema:"bytes to read (default and maximum: the per-call chunk size, about 1 MiB)"`
	FileSHA256 bool   `json:"file_sha256,omitempty" jsonschema:"also hash the whole file (done anyway when the whole file fits in this chunk or is under 256 MiB)"`
}

// ReadFileBinaryOutput is the result of read_file_binary.
type ReadFileBinaryOutput struct {
	Path          string `json:"path"`
	Offset        int64  `json:"offset"`
	Length        int64  `json:"length" jsonschema:"bytes in this chunk"`
	Size          int64  `json:"size" jsonschema:"total file size"`
	ContentBase64 string `json:"content_base64"`
	ChunkSHA256   string `json:"chunk_sha256"`
	FileSHA256    string `json:"file_sha256,omitempty"`
	EOF           bool   `json:"eof" jsonschema:"true when this chunk reaches the end of the file"`
	NextOffset    int64  `json:"next_offset" jsonschema:"offset for the next call"`
	MaxChunk      int64  `json:"max_chunk" jsonschema:"largest length accepted per call"`
}

var readFileBinaryTool = define(Tool{
	Name:  "read_file_binary",
	Title: "Read a file as base64",
	Description: "Read a byte range of any file as base64, with the chunk's sha256, the file size, eof and next_offset. " +
		"Large files come in chunks (about 1 MiB each): call again with offset=next_offset until eof, then compare file_sha256. For text files use read_file.",
	Hints: Hints{ReadOnly: true, Idempotent: true},
	Audit: []string{"path", "offset"},
}, (*Env).readFileBinary)

func (e *Env) readFileBinary(ctx context.Context, _ *mcp.CallToolRequest, in ReadFileBinaryInput) (*mcp.CallToolResult, ReadFileBinaryOutput, error) {
	p, err := e.resolve(in.Path)
	if err != nil {
		return nil, ReadFileBinaryOutput{}, err
	}
	chunk := e.binaryChunk()
	if in.Offset < 0 {
		return nil, ReadFileBinaryOutput{}, errors.New("offset must be 0 or more")
	}
	if in.Length < 0 {
		return nil, ReadFileBinaryOutput{}, errors.New("length must be positive")
	}
	if in.Length > chunk {
		return nil, ReadFileBinaryOutput{}, fmt.Errorf("length %d is over the per-call maximum of %d bytes: read in chunks of at most %d with increasing offset", in.Length, chunk, chunk)
	}
	f, fi, err := openRegular(p)
	if err != nil {
		return nil, ReadFileBinaryOutput{}, err
	}
	defer f.Close()
	var src io.ReaderAt = f
	size := fi.Size()
	if size == 0 {
		// /proc and /sys files report size 0 but have content, which changes
		// between reads: serve chunks and hashes from one bounded snapshot.
		snap, err := io.ReadAll(io.LimitReader(f, procSnapshotMax))
		if err != nil {
			return nil, ReadFileBinaryOutput{}, fmt.Errorf("reading %s: %w", p, err)
		}
		src, size = bytes.NewReader(snap), int64(len(snap))
	}
	if in.Offset > size {
		return nil, ReadFileBinaryOutput{}, fmt.Errorf("offset %d is past the end of %s (%d bytes)", in.Offset, p, size)
	}
	n := chunk
	if in.Length > 0 {
		n = in.Length
	}
	n = min(n, size-in.Offset)
	buf := make([]byte, n)
	k, err := src.ReadAt(buf, in.Offset)
	if err != nil && err != io.EOF {
		return nil, ReadFileBinaryOutput{}, err
	}
	buf = buf[:k]
	sum := sha256.Sum256(buf)
	out := ReadFileBinaryOutput{
		Path: p, Offset: in.Offset, Length: int64(k), Size: size,
		ContentBase64: base64.StdEncoding.EncodeToString(buf),
		ChunkSHA256:   hex.EncodeToString(sum[:]),
		NextOffset:    in.Offset + int64(k),
		MaxChunk:      chunk,
	}
	out.EOF = out.NextOffset >= size
	switch {
	case in.Offset == 0 && out.EOF:
		out.FileSHA256 = out.ChunkSHA256
	case in.FileSHA256 || size <= wholeHashLimit && out.EOF:
		if out.FileSHA256, err = hashFile(ctx, src); err != nil {
			return nil, ReadFileBinaryOutput{}, err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: bytes %d-%d of %d, chunk sha256 %s", p, out.Offset, out.NextOffset, size, out.ChunkSHA256)
	if out.FileSHA256 != "" {
		fmt.Fprintf(&b, ", file sha256 %s", out.FileSHA256)
	}
	if out.EOF {
		b.WriteString(", eof")
	} else {
		fmt.Fprintf(&b, "; more remains: call again with offset=%d", out.NextOffset)
	}
	b.WriteString("\nbase64:\n" + out.ContentBase64)
	return textResult("%s", b.String()), out, nil
}

func hashFile(ctx context.Context, f io.ReaderAt) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: io.NewSectionReader(f, 0, 1<<62)}); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteFileBinaryInput are the arguments of write_file_binary.
type WriteFileBinaryInput struct {
	Path          string `json:"path" jsonschema:"file to write"`
	ContentBase64 string `json:"content_base64" jsonschema:"the bytes, standard base64 (padding optional, whitespace ignored)"`
	Offset        int64  `json:"offset,omitempty" jsonschema:"byte offset to write at (default 0); must not be past the current size"`
	Append        bool   `json:"append,omitempty" jsonschema:"write at the end of the existing file (for chunked uploads)"`
	CreateDirs    *bool  `json:"create_dirs,omitempty" jsonschema:"create missing parent directories (default true)"`
	Truncate      bool   `json:"truncate,omitempty" jsonschema:"with offset > 0: cut the file right after the written bytes"`
	FileSHA256    bool   `json:"file_sha256,omitempty" jsonschema:"hash the whole file even when it is over 64 MiB (do it on the last chunk of a big upload)"`
}

// WriteFileBinaryOutput is the result of write_file_binary.
type WriteFileBinaryOutput struct {
	Path         string `json:"path"`
	BytesWritten int64  `json:"bytes_written"`
	Offset       int64  `json:"offset" jsonschema:"where the bytes were written"`
	Size         int64  `json:"size" jsonschema:"file size after the write"`
	ChunkSHA256  string `json:"chunk_sha256"`
	FileSHA256   string `json:"file_sha256,omitempty" jsonschema:"sha256 of the whole file; omitted over 64 MiB unless file_sha256=true"`
	Atomic       bool   `json:"atomic" jsonschema:"true when the file was replaced atomically (offset 0 without append)"`
}

var writeFileBinaryTool = define(Tool{
	Name:  "write_file_binary",
	Title: "Write a file from base64",
	Description: "Write base64-encoded bytes to a file. offset 0 without append replaces the file atomically (keeping its mode, minus setuid/setgid, and owner). " +
		"For large files upload in chunks: first chunk with offset 0, then append=true (or offset=size) for each next chunk; check the returned size and file_sha256 at the end. " +
		"offset must not be past the current size. Invalid base64 leaves the file untouched. Files over 64 MiB are hashed only with file_sha256=true. For text use write_file.",
	Hints: Hints{Destructive: true},
	Audit: []string{"path", "offset"},
}, (*Env).writeFileBinary)

func (e *Env) writeFileBinary(ctx context.Context, _ *mcp.CallToolRequest, in WriteFileBinaryInput) (*mcp.CallToolResult, WriteFileBinaryOutput, error) {
	p, err := e.resolve(in.Path)
	if err != nil {
		return nil, WriteFileBinaryOutput{}, err
	}
	data, err := decodeBase64(in.ContentBase64)
	if err != nil {
		return nil, WriteFileBinaryOutput{}, fmt.Errorf("content_base64 is not valid base64 (%w); nothing was written. Send standard base64 (A-Z a-z 0-9 + /)", err)
	}
	if in.Offset < 0 {
		return nil, WriteFileBinaryOutput{}, errors.New("offset must be 0 or more")
	}
	p, fi, err := fsutil.ResolveWriteTarget(p)
	if err != nil {
		return nil, WriteFileBinaryOutput{}, err
	}
	var cur int64
	if fi != nil {
		cur = fi.Size()
	}
	at := in.Offset
	if in.Append {
		if in.Offset != 0 && in.Offset != cur {
			return nil, WriteFileBinaryOutput{}, fmt.Errorf("append=true but offset %d differs from the current size %d of %s: a chunk is missing or was sent twice; resume at offset %d", in.Offset, cur, p, cur)
		}
		at = cur
	} else if in.Offset > cur {
		return nil, WriteFileBinaryOutput{}, fmt.Errorf("offset %d is past the end of %s (%d bytes): writing there would leave a hole; resume at offset %d", in.Offset, p, cur, cur)
	}
	newSize := max(cur, at+int64(len(data)))
	if in.Truncate || at == 0 && !in.Append {
		newSize = at + int64(len(data))
	}
	if e.UploadMaxSize > 0 && newSize > e.UploadMaxSize {
		return nil, WriteFileBinaryOutput{}, fmt.Errorf("%w: %s would be %d bytes, SERVAGENT_UPLOAD_MAX_SIZE is %d", ErrTooLarge, p, newSize, e.UploadMaxSize)
	}
	createDirs := in.CreateDirs == nil || *in.CreateDirs
	sum := sha256.Sum256(data)
	out := WriteFileBinaryOutput{Path: p, BytesWritten: int64(len(data)), Offset: at, ChunkSHA256: hex.EncodeToString(sum[:])}
	if at == 0 && !in.Append {
		out.Atomic = true
		if _, err := fsutil.Replace(p, fsutil.Options{Perm: 0o644, CreateDirs: createDirs}, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
			return nil, WriteFileBinaryOutput{}, fmt.Errorf("writing %s: %w (the previous content, if any, is unchanged)", p, writeErr(err, createDirs))
		}
	} else if err := writeAt(p, data, at, in.Append, in.Truncate, createDirs); err != nil {
		return nil, WriteFileBinaryOutput{}, fmt.Errorf("writing %s at offset %d: %w", p, at, writeErr(err, createDirs))
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, WriteFileBinaryOutput{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, WriteFileBinaryOutput{}, err
	}
	out.Size = st.Size()
	if out.Size <= writeHashLimit || in.FileSHA256 {
		if out.FileSHA256, err = hashFile(ctx, f); err != nil {
			return nil, WriteFileBinaryOutput{}, err
		}
	}
	msg := fmt.Sprintf("wrote %d bytes to %s at offset %d; size now %d", out.BytesWritten, p, at, out.Size)
	if out.FileSHA256 != "" {
		msg += ", file sha256 " + out.FileSHA256
	}
	return textResult("%s", msg), out, nil
}

// writeAt writes data into an existing file in place (chunked uploads).
func writeAt(p string, data []byte, at int64, appendMode, truncate, createDirs bool) error {
	flags := os.O_WRONLY | os.O_CREATE
	if appendMode {
		flags |= os.O_APPEND
	}
	f, _, err := fsutil.OpenFile(p, flags, fsutil.Options{Perm: 0o644, CreateDirs: createDirs})
	if err != nil {
		return err
	}
	if appendMode {
		_, err = f.Write(data)
	} else {
		_, err = f.WriteAt(data, at)
	}
	if err == nil && truncate {
		err = f.Truncate(at + int64(len(data)))
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\n', '\r', '\t':
			return -1
		}
		return r
	}, s)
	if strings.HasSuffix(s, "=") || len(s)%4 == 0 {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
