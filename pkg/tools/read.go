package tools

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

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

// defaultCountBudget bounds the bytes scanned only to count total lines;
// past it the total is an estimate instead of stalling on a huge log.
const defaultCountBudget = 2 << 30

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

var readFileTool = define(Tool{
	Name:  "read_file",
	Title: "Read a text file",
	Description: "Read a text file by lines. offset is 0-based; a negative offset reads the tail (offset=-50: the last 50 lines). " +
		"At most `limit` lines (default 2000) and SERVAGENT_MAX_OUTPUT_SIZE bytes are returned; the reply says the total line count and, when more remains, the offset to pass next. " +
		"Binary files are refused: use read_file_binary. Directories: use list_directory.",
	Hints: Hints{ReadOnly: true, Idempotent: true},
	Audit: []string{"path", "offset", "limit"},
}, (*Env).readFile)

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
	lr := lineRead{limit: limit, maxBytes: maxBytes, budget: e.CountBudget, out: &out}
	if lr.budget <= 0 {
		lr.budget = defaultCountBudget
	}
	switch {
	case in.Offset < 0 && fi.Size() == 0:
		// /proc and /sys files report size 0 and change between reads:
		// take one bounded snapshot, then count and read that.
		var snap []byte
		if snap, err = io.ReadAll(io.LimitReader(f, procSnapshotMax)); err == nil {
			r := bytes.NewReader(snap)
			var n int64
			if n, err = countLines(ctx, r); err == nil {
				err = lr.readRange(ctx, r, max(0, n+in.Offset))
			}
		}
	case in.Offset < 0:
		err = lr.readTail(ctx, f, fi.Size(), -in.Offset)
	default:
		err = lr.readRange(ctx, f, in.Offset)
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

// lineRead is one read_file request on an open file: how many lines and
// bytes to return, and how much to scan only to count lines.
type lineRead struct {
	limit, maxBytes, budget int64
	out                     *ReadFileOutput
}

// readRange skips offset lines and, after the range, counts the rest
// (within the budget) by scanning raw blocks with bytes.Count; only the
// returned range goes through bufio. Memory is one fixed buffer plus output.
func (lr lineRead) readRange(ctx context.Context, f io.ReaderAt, offset int64) error {
	bp := getBuf()
	defer putBuf(bp)
	buf := *bp
	pos, line, lastByte, err := skipLines(ctx, f, buf, offset)
	if err != nil {
		return err
	}
	col := lineCollector{maxBytes: lr.maxBytes, limit: lr.limit}
	if line == offset {
		r := getReader(io.NewSectionReader(f, pos, 1<<62))
		consumed, newlines, last, err := collect(r, &col, lr.limit)
		putReader(r)
		if err != nil {
			return err
		}
		pos, line = pos+consumed, line+newlines
		if last >= 0 {
			lastByte = byte(last)
		}
	}
	return lr.countRest(ctx, f, buf, &col, offset, pos, line, lastByte)
}

// skipLines reads from the start until offset lines are behind; it returns
// the byte position reached, the lines passed and the last byte before it.
func skipLines(ctx context.Context, f io.ReaderAt, buf []byte, offset int64) (pos, line int64, lastByte byte, err error) {
	lastByte = '\n'
	for line < offset {
		n, err := f.ReadAt(buf, pos)
		if n == 0 {
			if err != nil && err != io.EOF {
				return 0, 0, 0, err
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
			return 0, 0, 0, err
		}
	}
	return pos, line, lastByte, nil
}

// collect feeds lines from r into col until limit whole lines or the byte
// cap. It returns the bytes consumed up to the line the cap cut (counting
// resumes there), the newlines in them, and the last byte of the last
// chunk taken whole (-1 when none).
func collect(r *bufio.Reader, col *lineCollector, limit int64) (consumed, newlines int64, last int, err error) {
	last = -1
	lineStart := int64(0)
	atLineStart := true
	for !(atLineStart && col.lines >= limit) {
		chunk, err := r.ReadSlice('\n')
		if len(chunk) > 0 {
			ends := chunk[len(chunk)-1] == '\n'
			col.add(chunk, ends)
			if col.full {
				return lineStart, newlines, last, nil // the dropped or cut line is counted later
			}
			consumed += int64(len(chunk))
			last = int(chunk[len(chunk)-1])
			if ends {
				newlines++
				lineStart = consumed
			}
			atLineStart = ends
		}
		if err == io.EOF {
			col.eof()
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return 0, 0, -1, err
		}
	}
	return consumed, newlines, last, nil
}

// countRest counts the lines after the returned range to give the total,
// estimating from the mean line length past the budget.
func (lr lineRead) countRest(ctx context.Context, f io.ReaderAt, buf []byte, col *lineCollector, offset, pos, line int64, lastByte byte) error {
	out := lr.out
	scan, err := scanNewlines(ctx, f, buf, pos, lr.budget, lastByte)
	if err != nil {
		return err
	}
	line += scan.newlines
	if !scan.complete {
		mean := float64(scan.end) / float64(max(line, 1))
		out.TotalLines = line + int64(float64(out.SizeBytes-scan.end)/mean)
		out.TotalExact = false
		finishRange(out, col, offset, true)
		return nil
	}
	total := scan.lines(line)
	out.TotalLines, out.TotalExact = total, true
	finishRange(out, col, offset, offset+col.lines < total)
	return nil
}

// newlineScan is what scanNewlines found.
type newlineScan struct {
	newlines int64
	end      int64 // the offset the scan stopped at
	last     byte  // the last byte read (the one given when none was)
	complete bool  // the scan reached the end (false: the budget stopped it)
}

// lines turns newlines, a count that ends where the scan ended, into
// lines: a last line without its newline counts too.
func (s newlineScan) lines(newlines int64) int64 {
	if s.last != '\n' {
		return newlines + 1
	}
	return newlines
}

// scanNewlines counts the newlines of f from pos on by raw blocks with
// bytes.Count, stopping early once more than budget bytes were read; last
// is the byte before pos.
func scanNewlines(ctx context.Context, f io.ReaderAt, buf []byte, pos, budget int64, last byte) (newlineScan, error) {
	s := newlineScan{end: pos, last: last}
	var read int64
	for {
		n, err := f.ReadAt(buf, s.end)
		if n > 0 {
			s.newlines += int64(bytes.Count(buf[:n], []byte{'\n'}))
			s.last = buf[n-1]
			s.end += int64(n)
			read += int64(n)
		}
		if n == 0 || err == io.EOF {
			s.complete = true
			return s, nil
		}
		if err != nil {
			return s, err
		}
		if err := ctx.Err(); err != nil {
			return s, err
		}
		if read > budget {
			return s, nil
		}
	}
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
// counted with a fixed buffer (within the budget) for the total.
func (lr lineRead) readTail(ctx context.Context, f *os.File, size, n int64) error {
	out := lr.out
	start, tailLines, err := tailStart(f, size, n)
	if err != nil {
		return err
	}
	var before int64
	exact := start <= lr.budget
	if start > 0 && exact {
		if before, err = countNewlines(ctx, io.NewSectionReader(f, 0, start)); err != nil {
			return err
		}
	}
	out.TotalLines, out.TotalExact = before+tailLines, exact
	if !exact {
		// Estimate from the tail's mean line length.
		mean := float64(size-start) / float64(max(tailLines, 1))
		out.TotalLines = int64(float64(size)/mean + 0.5)
	}
	r := getReader(io.NewSectionReader(f, start, size-start))
	defer putReader(r)
	col := lineCollector{maxBytes: lr.maxBytes, limit: lr.limit}
	if _, _, _, err := collect(r, &col, lr.limit); err != nil {
		return err
	}
	out.Content = col.buf.String()
	out.LinesReturned = col.lines
	out.Truncated = col.full
	out.StartLine = -1
	if exact {
		out.StartLine = before
	}
	out.MoreRemaining = col.lines < tailLines
	switch {
	case !out.MoreRemaining:
	case exact:
		out.NextOffset = before + col.lines
	default:
		// Position unknown: keep reading the tail with a smaller negative offset.
		out.NextOffset = -(tailLines - col.lines)
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
	scan, err := scanNewlines(ctx, f, *bp, 0, math.MaxInt64, '\n')
	if err != nil {
		return 0, err
	}
	return scan.lines(scan.newlines), nil
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
