package tools

import (
	"fmt"
	"sync"
	"unicode/utf8"
)

// HeadTail truncates what one tool call returns to the model (a job's output,
// read across calls, is bounded by jobs.Log instead, on the same head and tail
// rule). It keeps the first and last halves of a byte budget while streaming,
// so memory stays bounded and both the start of the output and the error at
// its end survive. It is safe for concurrent writes.
type HeadTail struct {
	mu    sync.Mutex
	limit int64
	head  []byte
	tail  []byte // ring buffer once full
	tpos  int
	full  bool
	total int64
}

// NewHeadTail returns a writer keeping at most limit bytes.
func NewHeadTail(limit int64) *HeadTail {
	if limit < 2 {
		limit = 2
	}
	return &HeadTail{limit: limit}
}

func (h *HeadTail) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(p)
	h.total += int64(n)
	headCap := int(h.limit / 2)
	if room := headCap - len(h.head); room > 0 {
		k := min(room, len(p))
		h.head = append(h.head, p[:k]...)
		p = p[k:]
	}
	if len(p) == 0 {
		return n, nil
	}
	tailCap := int(h.limit) - headCap
	if len(p) >= tailCap {
		h.tail = append(h.tail[:0], p[len(p)-tailCap:]...)
		h.tpos, h.full = 0, true
		return n, nil
	}
	if !h.full {
		if len(h.tail)+len(p) <= tailCap {
			h.tail = append(h.tail, p...)
			if len(h.tail) == tailCap {
				h.full, h.tpos = true, 0
			}
			return n, nil
		}
		// Fill up, then wrap.
		k := tailCap - len(h.tail)
		h.tail = append(h.tail, p[:k]...)
		p = p[k:]
		h.full, h.tpos = true, 0
	}
	for len(p) > 0 {
		k := copy(h.tail[h.tpos:], p)
		p = p[k:]
		h.tpos = (h.tpos + k) % tailCap
	}
	return n, nil
}

// Total is the number of bytes written.
func (h *HeadTail) Total() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

// Omitted is the number of bytes left out of String.
func (h *HeadTail) Omitted() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total - int64(len(h.head)) - int64(len(h.tail))
}

// String returns the kept output, with a marker where bytes were left out.
// Cuts are moved to UTF-8 boundaries so the result is valid text.
func (h *HeadTail) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	tail := h.tail
	if h.full && h.tpos != 0 {
		tail = append(append([]byte{}, h.tail[h.tpos:]...), h.tail[:h.tpos]...)
	}
	omitted := h.total - int64(len(h.head)) - int64(len(tail))
	if omitted == 0 {
		return string(h.head) + string(tail)
	}
	head := trimIncompleteEnd(h.head)
	tail = trimIncompleteStart(tail)
	omitted = h.total - int64(len(head)) - int64(len(tail))
	return fmt.Sprintf("%s\n[... %d bytes omitted from the middle of the output; re-run with narrower output (grep, head, tail, sed -n) to see them ...]\n%s", head, omitted, tail)
}

func trimIncompleteEnd(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		r, size := utf8.DecodeLastRune(b)
		if r != utf8.RuneError || size != 1 {
			return b
		}
		b = b[:len(b)-1]
	}
	return b
}

func trimIncompleteStart(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		r, size := utf8.DecodeRune(b)
		if r != utf8.RuneError || size != 1 {
			return b
		}
		b = b[1:]
	}
	return b
}
