package tools

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/fsutil"
)

func init() {
	register("read_file", addReadFile)
	register("write_file", addWriteFile)
	register("edit_file", addEditFile)
}

const (
	defaultReadLines = 2000
	// readBufSize is the fixed buffer every streaming pass uses, so memory
	// does not depend on the file size or its line lengths.
	readBufSize = 64 << 10
	// editMaxSize bounds edit_file, which must hold the whole file in memory.
	editMaxSize = 64 << 20
	// procSnapshotMax bounds the snapshot of a size-0 (procfs) file.
	procSnapshotMax = 16 << 20

	// binarySample is how much of the file start decides text vs binary.
	binarySample = 8 << 10
)

// ---------------------------------------------------------------- read_file

// countBudget bounds the bytes scanned only to count total lines; past it
// the total is an estimate instead of stalling on a huge log. A variable so
// tests can exercise the estimate.
var countBudget int64 = 2 << 30

// ReadFileInput are the arguments of read_file.
type ReadFileInput struct {
	Path   string `json:"path" jsonschema:"file to read (absolute, or relative to the server's working directory)"`
	Offset int64  `json:"offset,omitempty" jsonschema:"first line to return, 0-based (default 0); negative counts from the end: -20 returns the last 20 lines"`
	Limit  int64  `json:"limit,omitempty" jsonschema:"maximum number of lines to return (default 2000)"`
}

// ReadFileOutput is the result of read_file.
type ReadFileOutput struct {
	Path          string `json:"path"`
	Content       string `json:"content"`
	StartLine     int64  `json:"start_line" jsonschema:"0-based index of the first returned line; -1 when unknown (tail of a file too large to count)"`
	LinesReturned int64  `json:"lines_returned"`
	TotalLines    int64  `json:"total_lines" jsonschema:"number of lines in the file; an estimate when total_lines_exact is false"`
	TotalExact    bool   `json:"total_lines_exact"`
	MoreRemaining bool   `json:"more_remaining" jsonschema:"true when lines follow the returned range"`
	NextOffset    int64  `json:"next_offset,omitempty" jsonschema:"offset to pass to read the next range, when more_remaining"`
	Truncated     bool   `json:"truncated" jsonschema:"true when the byte cap (SERVAGENT_MAX_OUTPUT_SIZE) stopped the read before limit lines"`
	SizeBytes     int64  `json:"size_bytes"`
}

func addReadFile(s *mcp.Server, env *Env) {
	mcp.AddTool(s, &mcp.Tool{
		Name: "read_file",
		Description: "Read a text file by lines. offset is 0-based; a negative offset reads the tail (offset=-50: the last 50 lines). " +
			"At most `limit` lines (default 2000) and SERVAGENT_MAX_OUTPUT_SIZE bytes are returned; the reply says the total line count and, when more remains, the offset to pass next. " +
			"Binary files are refused: use read_file_binary. Directories: use list_directory.",
		Title:       "Read a text file",
		Annotations: annotate("Read a text file", true, false, true, false),
	}, env.readFile)
}

func (e *Env) readFile(ctx context.Context, _ *mcp.CallToolRequest, in ReadFileInput) (*mcp.CallToolResult, ReadFileOutput, error) {
	p, err := e.resolve(in.Path)
	if err != nil {
		return nil, ReadFileOutput{}, err
	}
	if in.Limit < 0 {
		return nil, ReadFileOutput{}, fmt.Errorf("limit must be positive (default %d lines)", defaultReadLines)
	}
	limit := in.Limit
	if limit == 0 {
		limit = defaultReadLines
	}
	f, fi, err := openRegular(p)
	if err != nil {
		return nil, ReadFileOutput{}, err
	}
	defer f.Close()
	if err := checkText(f, p); err != nil {
		return nil, ReadFileOutput{}, err
	}
	maxBytes := e.MaxOutputSize
	if maxBytes <= 0 {
		maxBytes = 1_000_000
	}
	out := ReadFileOutput{Path: p, SizeBytes: fi.Size()}
	switch {
	case in.Offset < 0 && fi.Size() == 0:
		// /proc and /sys files report size 0 and change between reads:
		// take one bounded snapshot, then count and read that.
		var snap []byte
		if snap, err = io.ReadAll(io.LimitReader(f, procSnapshotMax)); err == nil {
			r := bytes.NewReader(snap)
			var n int64
			if n, err = countLines(ctx, r); err == nil {
				err = readRange(ctx, r, max(0, n+in.Offset), limit, maxBytes, &out)
			}
		}
	case in.Offset < 0:
		err = readTail(ctx, f, fi.Size(), -in.Offset, limit, maxBytes, &out)
	default:
		err = readRange(ctx, f, in.Offset, limit, maxBytes, &out)
	}
	if err != nil {
		return nil, ReadFileOutput{}, fmt.Errorf("reading %s: %w", p, err)
	}
	return readFileText(out), out, nil
}

// openRegular opens p for reading, refusing directories and special files
// (a FIFO or a device would block or never end). It opens non-blocking and
// checks the opened file, so swapping the path for a FIFO cannot hang us.
func openRegular(p string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s does not exist: check the path with list_directory", p)
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is a directory: use list_directory to see its entries", p)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file (%s): read it with execute_command instead", p, fi.Mode().Type())
	}
	return f, fi, nil
}

// Read buffers are pooled: every read_file call would otherwise allocate
// 128 KiB, which dominates the cost of reading a small file.
var (
	bufPool    = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}
)

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }

func getReader(r io.Reader) *bufio.Reader {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readerPool.Put(br)
}

// checkText refuses files whose first bytes look binary. f is left at 0.
func checkText(f *os.File, p string) error {
	bp := getBuf()
	defer putBuf(bp)
	buf := (*bp)[:binarySample]
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return err
	}
	if looksBinary(buf[:n], n < len(buf)) {
		return fmt.Errorf("%s looks binary (NUL bytes or mostly invalid UTF-8): use read_file_binary to fetch it as base64, or execute_command with file/xxd/strings", p)
	}
	return nil
}

// looksBinary: any NUL, or invalid UTF-8 in more than 30% of the sample.
// Random data has ~45% invalid bytes; Latin-1 text stays far below 30%.
func looksBinary(b []byte, complete bool) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	bad := 0
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			// A rune cut by the sample's end is not evidence.
			if !complete && len(b)-i < utf8.UTFMax && !utf8.FullRune(b[i:]) {
				break
			}
			bad++
		}
		i += size
	}
	return bad*10 > len(b)*3
}

// lineCollector gathers whole lines until the line or byte budget is spent.
type lineCollector struct {
	buf      bytes.Buffer
	maxBytes int64
	limit    int64
	lines    int64
	mark     int  // buffer length at the start of the current line
	full     bool // byte budget reached
	cutLine  bool // the only line returned was cut by the byte budget
}

// add appends a piece of the current line (ends: it ends with '\n'). When
// the budget runs out a partly collected line is dropped, so the output has
// whole lines only, except a first line longer than the budget: its start
// is shown, cut.
func (c *lineCollector) add(piece []byte, ends bool) {
	room := c.maxBytes - int64(c.buf.Len())
	if int64(len(piece)) > room {
		c.full = true
		if c.lines == 0 {
			c.buf.Write(trimIncompleteEnd(piece[:room]))
			c.cutLine, c.lines = true, 1
		} else {
			c.buf.Truncate(c.mark)
		}
		return
	}
	c.buf.Write(piece)
	if ends {
		c.lines++
		c.mark = c.buf.Len()
	}
}

// eof counts a last line that has no trailing newline.
func (c *lineCollector) eof() {
	if !c.full && c.buf.Len() > c.mark {
		c.lines++
		c.mark = c.buf.Len()
	}
}

// readRange skips offset lines and, after the range, counts the rest
// (within countBudget) by scanning raw blocks with bytes.Count; only the
// returned range goes through bufio. Memory is one fixed buffer plus output.
func readRange(ctx context.Context, f io.ReaderAt, offset, limit, maxBytes int64, out *ReadFileOutput) error {
	bp := getBuf()
	defer putBuf(bp)
	buf := *bp
	var pos, line int64 // byte position and '\n' count before it
	lastByte := byte('\n')
	for line < offset {
		n, err := f.ReadAt(buf, pos)
		if n == 0 {
			if err != nil && err != io.EOF {
				return err
			}
			break
		}
		b := buf[:n]
		if c := int64(bytes.Count(b, []byte{'\n'})); line+c < offset {
			line += c
			pos += int64(n)
			lastByte = b[n-1]
		} else {
			for line < offset {
				i := bytes.IndexByte(b, '\n')
				pos += int64(i) + 1
				b = b[i+1:]
				line++
			}
			lastByte = '\n'
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	col := lineCollector{maxBytes: maxBytes, limit: limit}
	if line == offset {
		// Collect the range.
		r := getReader(io.NewSectionReader(f, pos, 1<<62))
		defer putReader(r)
		atLineStart := true
		lineStart := pos
		for !(atLineStart && col.lines >= limit) {
			chunk, err := r.ReadSlice('\n')
			if len(chunk) > 0 {
				ends := chunk[len(chunk)-1] == '\n'
				col.add(chunk, ends)
				if col.full {
					pos = lineStart // the dropped or cut line is counted below
					break
				}
				pos += int64(len(chunk))
				lastByte = chunk[len(chunk)-1]
				if ends {
					line++
					lineStart = pos
				}
				atLineStart = ends
			}
			if err == io.EOF {
				col.eof()
				break
			}
			if err != nil && err != bufio.ErrBufferFull {
				return err
			}
		}
	}
	// Count what follows.
	var counted int64
	for {
		n, err := f.ReadAt(buf, pos)
		if n > 0 {
			line += int64(bytes.Count(buf[:n], []byte{'\n'}))
			lastByte = buf[n-1]
			pos += int64(n)
			counted += int64(n)
		}
		if n == 0 || err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if counted > countBudget {
			// Too big to count: estimate from the mean line length so far.
			mean := float64(pos) / float64(max(line, 1))
			out.TotalLines = line + int64(float64(out.SizeBytes-pos)/mean)
			out.TotalExact = false
			finishRange(out, &col, offset, true)
			return nil
		}
	}
	total := line
	if lastByte != '\n' {
		total++
	}
	out.TotalLines, out.TotalExact = total, true
	finishRange(out, &col, offset, offset+col.lines < total)
	return nil
}

func finishRange(out *ReadFileOutput, col *lineCollector, offset int64, more bool) {
	out.Content = col.buf.String()
	out.StartLine = offset
	out.LinesReturned = col.lines
	out.Truncated = col.full
	out.MoreRemaining = more
	if more {
		out.NextOffset = offset + col.lines
	}
}

// readTail finds the start of the last n lines by reading backwards in
// blocks from the end, then streams them forwards; the lines before are
// counted with a fixed buffer (within countBudget) for the total.
func readTail(ctx context.Context, f *os.File, size, n, limit, maxBytes int64, out *ReadFileOutput) error {
	start, found, err := tailStart(f, size, n)
	if err != nil {
		return err
	}
	// Lines in [start, size).
	tailLines := found
	// Lines before start: count newlines in [0, start).
	var before int64
	exact := true
	if start > 0 {
		if start > countBudget {
			exact = false
		} else {
			before, err = countNewlines(ctx, io.NewSectionReader(f, 0, start))
			if err != nil {
				return err
			}
		}
	}
	total := before + tailLines
	if !exact {
		// Estimate from the tail's mean line length.
		mean := float64(size-start) / float64(max(tailLines, 1))
		total = int64(float64(size)/mean + 0.5)
	}
	out.TotalLines, out.TotalExact = total, exact
	// Collect forward from start.
	r := getReader(io.NewSectionReader(f, start, size-start))
	defer putReader(r)
	col := lineCollector{maxBytes: maxBytes, limit: limit}
	atLineStart := true
	for !(atLineStart && col.lines >= limit) {
		chunk, err := r.ReadSlice('\n')
		if len(chunk) > 0 {
			ends := chunk[len(chunk)-1] == '\n'
			col.add(chunk, ends)
			if col.full {
				break
			}
			atLineStart = ends
		}
		if err == io.EOF {
			col.eof()
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return err
		}
	}
	out.Content = col.buf.String()
	out.LinesReturned = col.lines
	out.Truncated = col.full
	out.StartLine = -1
	if exact {
		out.StartLine = before
	}
	more := col.lines < tailLines
	out.MoreRemaining = more
	if more {
		if exact {
			out.NextOffset = before + col.lines
		} else {
			// Position unknown: keep reading the tail with a smaller negative offset.
			out.NextOffset = -(tailLines - col.lines)
		}
	}
	return nil
}

// tailStart returns the byte offset where the last n lines begin and how
// many lines there are from it (fewer than n if the file is shorter).
func tailStart(f *os.File, size, n int64) (int64, int64, error) {
	if size == 0 {
		return 0, 0, nil
	}
	bp := getBuf()
	defer putBuf(bp)
	buf := *bp
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return 0, 0, err
	}
	// A trailing newline ends the last line; it does not start a new one.
	end := size
	if last[0] == '\n' {
		end = size - 1
	}
	var newlines int64
	pos := end
	for pos > 0 {
		k := min(int64(len(buf)), pos)
		pos -= k
		b := buf[:k]
		if _, err := f.ReadAt(b, pos); err != nil && err != io.EOF {
			return 0, 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] == '\n' {
				newlines++
				if newlines == n {
					return pos + int64(i) + 1, n, nil
				}
			}
		}
	}
	return 0, newlines + 1, nil
}

// countLines counts the lines of a file read from the start.
func countLines(ctx context.Context, f io.ReaderAt) (int64, error) {
	bp := getBuf()
	defer putBuf(bp)
	buf := *bp
	var n, pos int64
	last := byte('\n')
	for {
		k, err := f.ReadAt(buf, pos)
		if k > 0 {
			n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			last = buf[k-1]
			pos += int64(k)
		}
		if k == 0 || err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	if last != '\n' {
		n++
	}
	return n, nil
}

func countNewlines(ctx context.Context, r io.Reader) (int64, error) {
	bp := getBuf()
	defer putBuf(bp)
	buf := *bp
	var n int64
	for i := 0; ; i++ {
		k, err := r.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if i&0xff == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
	}
}

func readFileText(o ReadFileOutput) *mcp.CallToolResult {
	var b strings.Builder
	total := fmt.Sprintf("%d", o.TotalLines)
	if !o.TotalExact {
		total = "about " + total + " (estimated: the file is too large to count)"
	}
	switch {
	case o.LinesReturned == 0 && o.TotalLines == 0:
		fmt.Fprintf(&b, "[%s is empty]\n", o.Path)
	case o.LinesReturned == 0:
		fmt.Fprintf(&b, "[%s: no lines at offset %d; the file has %s lines]\n", o.Path, o.StartLine, total)
	case o.StartLine >= 0:
		fmt.Fprintf(&b, "[%s: lines %d-%d (0-based) of %s]\n", o.Path, o.StartLine, o.StartLine+o.LinesReturned-1, total)
	default:
		fmt.Fprintf(&b, "[%s: last %d lines of %s]\n", o.Path, o.LinesReturned, total)
	}
	b.WriteString(o.Content)
	if o.Content != "" && !strings.HasSuffix(o.Content, "\n") {
		b.WriteString("\n")
	}
	if o.Truncated {
		if o.LinesReturned == 1 && !strings.HasSuffix(o.Content, "\n") {
			b.WriteString("[line cut: it is longer than the output cap; use read_file_binary or execute_command with cut/fold to see all of it]\n")
		} else {
			b.WriteString("[stopped at the output cap (SERVAGENT_MAX_OUTPUT_SIZE)]\n")
		}
	}
	if o.MoreRemaining {
		fmt.Fprintf(&b, "[more lines remain: call read_file with offset=%d to continue]\n", o.NextOffset)
	} else if o.LinesReturned > 0 {
		b.WriteString("[end of file]\n")
	}
	return textResult("%s", b.String())
}

// --------------------------------------------------------------- write_file

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

func addWriteFile(s *mcp.Server, env *Env) {
	mcp.AddTool(s, &mcp.Tool{
		Name: "write_file",
		Description: "Create or replace a text file with `content`. Replacing is atomic (a temp file renamed over the target: readers and crashes see the old or the new content, never a mix) and keeps the existing file's mode and owner; new files get 0644. " +
			"append=true adds to the end with O_APPEND in a single write instead (not an atomic replace). Parent directories are created unless create_dirs=false. " +
			"Use this rather than shell heredocs or echo redirections; for small changes to an existing file prefer edit_file.",
		Title:       "Write a text file",
		Annotations: annotate("Write a text file", false, true, false, false),
	}, env.writeFile)
}

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

// ---------------------------------------------------------------- edit_file

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

func addEditFile(s *mcp.Server, env *Env) {
	mcp.AddTool(s, &mcp.Tool{
		Name: "edit_file",
		Description: "Replace an exact string in a file: old_string must occur exactly expected_replacements times (default 1), otherwise nothing is changed and the reply shows the closest lines. " +
			"After a failed edit, re-read the file with read_file and copy the exact text; do not retry the same old_string. " +
			"CRLF files are matched with \\n line endings and keep CRLF. The write is atomic and keeps the mode and owner. Returns a unified diff of the change.",
		Title:       "Edit a file",
		Annotations: annotate("Edit a file", false, true, false, false),
	}, env.editFile)
}

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
	unifiedDiff(diff, p, text, oldS, newS, expected)
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
		if near := nearMatches(text, old, 3); near != "" {
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

// nearMatches lists the file lines most similar to old's first non-blank
// line, with 1-based line numbers.
func nearMatches(text, old string, n int) string {
	var needle string
	for l := range strings.SplitSeq(old, "\n") {
		if strings.TrimSpace(l) != "" {
			needle = l
			break
		}
	}
	if needle == "" {
		return ""
	}
	needle = clip(needle, 300)
	ng := bigrams(strings.TrimSpace(needle))
	type cand struct {
		line  int
		score float64
		text  string
	}
	var best []cand
	lineNo := 0
	for l := range strings.SplitSeq(text, "\n") {
		lineNo++
		if lineNo > 200_000 {
			break
		}
		t := strings.TrimSpace(strings.TrimSuffix(l, "\r"))
		if t == "" {
			continue
		}
		s := similarity(ng, strings.TrimSpace(needle), clip(t, 300))
		if s < 0.3 {
			continue
		}
		best = append(best, cand{lineNo, s, l})
		slices.SortStableFunc(best, func(a, b cand) int {
			switch {
			case a.score > b.score:
				return -1
			case a.score < b.score:
				return 1
			}
			return 0
		})
		if len(best) > n {
			best = best[:n]
		}
	}
	var b strings.Builder
	for _, c := range best {
		fmt.Fprintf(&b, "  line %d (%.0f%% similar): %s\n", c.line, c.score*100, clip(c.text, 200))
	}
	return b.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return string(trimIncompleteEnd([]byte(s[:n]))) + "..."
}

func bigrams(s string) map[string]int {
	m := map[string]int{}
	for i := 0; i+2 <= len(s); i++ {
		m[s[i:i+2]]++
	}
	return m
}

// similarity is the Dice coefficient of byte bigrams; identical trimmed
// lines (an indentation-only difference) score 1.
func similarity(ng map[string]int, needle, line string) float64 {
	if needle == line {
		return 1
	}
	if len(needle) < 2 || len(line) < 2 {
		return 0
	}
	seen := map[string]int{}
	common := 0
	for i := 0; i+2 <= len(line); i++ {
		g := line[i : i+2]
		if seen[g] < ng[g] {
			common++
		}
		seen[g]++
	}
	return 2 * float64(common) / float64(len(needle)-1+len(line)-1)
}

// unifiedDiff writes hunks for the first n occurrences of old in text
// replaced by new, with 3 lines of context; nearby hunks are merged.
func unifiedDiff(w io.Writer, p, text, old, new string, n int) {
	const ctxLines = 3
	type region struct{ s, e, k int } // byte span in text, whole lines; k matches
	var regs []region
	idx := 0
	for range n {
		i := strings.Index(text[idx:], old)
		if i < 0 {
			break
		}
		ms, me := idx+i, idx+i+len(old)
		s := strings.LastIndexByte(text[:ms], '\n') + 1
		e := me
		// A match ending a line whose replacement does not will join the
		// next line: show that line in the region too.
		joins := strings.HasSuffix(old, "\n") && !strings.HasSuffix(new, "\n") && me < len(text)
		if e == 0 || text[e-1] != '\n' || joins {
			if j := strings.IndexByte(text[e:], '\n'); j >= 0 {
				e += j + 1
			} else {
				e = len(text)
			}
		}
		if len(regs) > 0 && s < regs[len(regs)-1].e {
			regs[len(regs)-1].e = max(regs[len(regs)-1].e, e)
			regs[len(regs)-1].k++
		} else {
			regs = append(regs, region{s, e, 1})
		}
		idx = me
	}
	lines := func(s string) []string {
		l := strings.SplitAfter(s, "\n")
		if l[len(l)-1] == "" {
			l = l[:len(l)-1]
		}
		return l
	}
	fmt.Fprintf(w, "--- %s\n+++ %s\n", p, p)
	for i := 0; i < len(regs); {
		// Group regions whose context would touch.
		j := i
		for j+1 < len(regs) && strings.Count(text[regs[j].e:regs[j+1].s], "\n") <= 2*ctxLines {
			j++
		}
		// Context before.
		pre := lines(text[:regs[i].s])
		pre = pre[max(0, len(pre)-ctxLines):]
		oldStart := strings.Count(text[:regs[i].s], "\n") + 1 - len(pre)
		newStart := strings.Count(text[:regs[i].s], "\n") + 1 - len(pre) + lineShift(regs[i].s, text, old, new)
		var body strings.Builder
		oldCount, newCount := len(pre), len(pre)
		for _, l := range pre {
			body.WriteString(" " + ensureNL(l))
		}
		for r := i; r <= j; r++ {
			seg := text[regs[r].s:regs[r].e]
			rep := strings.Replace(seg, old, new, regs[r].k)
			for _, l := range lines(seg) {
				body.WriteString("-" + ensureNL(l))
				oldCount++
			}
			for _, l := range lines(rep) {
				body.WriteString("+" + ensureNL(l))
				newCount++
			}
			if r < j {
				for _, l := range lines(text[regs[r].e:regs[r+1].s]) {
					body.WriteString(" " + ensureNL(l))
					oldCount++
					newCount++
				}
			}
		}
		post := lines(text[regs[j].e:])
		post = post[:min(len(post), ctxLines)]
		for _, l := range post {
			body.WriteString(" " + ensureNL(l))
			oldCount++
			newCount++
		}
		fmt.Fprintf(w, "@@ -%d,%d +%d,%d @@\n%s", oldStart, oldCount, newStart, newCount, body.String())
		i = j + 1
	}
}

// lineShift is how many lines the replacements before byte pos add.
func lineShift(pos int, text, old, new string) int {
	k := strings.Count(text[:pos], old)
	return k * (strings.Count(new, "\n") - strings.Count(old, "\n"))
}

func ensureNL(l string) string {
	if strings.HasSuffix(l, "\n") {
		return l
	}
	return l + "\n\\ No newline at end of file\n"
}
