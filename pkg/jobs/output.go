package jobs

import (
	"fmt"
	"strings"
	"sync"
)

// Stream tells stdout from stderr in the output log.
type Stream uint8

const (
	Stdout Stream = iota
	Stderr
)

// segMax bounds one segment so that trimming the front of the tail never
// keeps more than this much dead memory alive.
const segMax = 32 << 10

// segment is a run of bytes of one stream starting at logical offset off.
type segment struct {
	stream Stream
	off    int64
	data   []byte
}

// Log is the ordered output of a job: (stream, bytes) with byte offsets
// counted over both streams. It keeps at most max bytes: the first half
// for ever, the latest half as a moving tail; what falls between is dropped
// and counted. Readers wait on Changed, signalled on every write and on Close.
type Log struct {
	mu       sync.Mutex
	headCap  int64
	tailCap  int64
	head     []segment
	headSize int64
	tail     []segment
	tailSize int64
	total    int64 // logical bytes written
	dropped  int64
	closed   bool
	changed  chan struct{}
}

// NewLog returns a log keeping at most max bytes (at least 2).
func NewLog(max int64) *Log {
	if max < 2 {
		max = 2
	}
	return &Log{headCap: max / 2, tailCap: max - max/2, changed: make(chan struct{})}
}

// Write appends p to stream s. It never fails; a closed log drops p.
func (l *Log) Write(s Stream, p []byte) {
	if len(p) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if room := l.headCap - l.headSize; room > 0 {
		k := min(room, int64(len(p)))
		l.head = appendSeg(l.head, s, l.total, p[:k])
		l.headSize += k
		l.total += k
		p = p[k:]
	}
	if len(p) > 0 {
		if int64(len(p)) > l.tailCap { // only its end can be kept
			cut := int64(len(p)) - l.tailCap
			l.total += cut
			l.dropped += cut
			p = p[cut:]
			l.dropped += l.tailSize
			l.tail, l.tailSize = nil, 0
		}
		l.tail = appendSeg(l.tail, s, l.total, p)
		l.tailSize += int64(len(p))
		l.total += int64(len(p))
		l.trim()
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// appendSeg adds p at offset off, extending the last segment when it is of
// the same stream and not full. Once the output is large, new segments get
// their full size at once rather than growing (and copying) by append.
func appendSeg(segs []segment, s Stream, off int64, p []byte) []segment {
	small := off < segMax
	for len(p) > 0 {
		if n := len(segs); n > 0 && segs[n-1].stream == s && len(segs[n-1].data) < segMax {
			last := &segs[n-1]
			k := min(segMax-len(last.data), len(p))
			last.data = append(last.data, p[:k]...)
			p = p[k:]
			continue
		}
		k := min(segMax, len(p))
		c := segMax
		if small {
			c = max(k, 512)
		}
		segs = append(segs, segment{stream: s, off: off, data: append(make([]byte, 0, c), p[:k]...)})
		off += int64(k)
		p = p[k:]
	}
	return segs
}

// trim drops the oldest tail bytes beyond tailCap.
func (l *Log) trim() {
	for l.tailSize > l.tailCap {
		over := l.tailSize - l.tailCap
		first := &l.tail[0]
		if int64(len(first.data)) <= over {
			l.tailSize -= int64(len(first.data))
			l.dropped += int64(len(first.data))
			l.tail[0] = segment{}
			l.tail = l.tail[1:]
			continue
		}
		first.data = first.data[over:]
		first.off += over
		l.tailSize -= over
		l.dropped += over
	}
}

// Close marks the end of the output and wakes every waiting reader.
func (l *Log) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.changed)
	}
}

// Chunk is what a read returns.
type Chunk struct {
	Stdout, Stderr string
	Next           int64 // offset to read from next time
	Skipped        int64 // bytes after since that were dropped before this read
}

// ReadFrom returns what was written from offset since on, the ordered
// stdout and stderr of it, and a marker in stdout where bytes were dropped.
func (l *Log) ReadFrom(since int64) Chunk {
	l.mu.Lock()
	defer l.mu.Unlock()
	since = max(0, min(since, l.total))
	var out, errb strings.Builder
	c := Chunk{Next: l.total}
	pos := since
	emit := func(segs []segment) {
		for _, sg := range segs {
			end := sg.off + int64(len(sg.data))
			if end <= pos {
				continue
			}
			if sg.off > pos {
				c.Skipped += sg.off - pos
				fmt.Fprintf(&out, "\n[... %d bytes of output dropped (buffer full) ...]\n", sg.off-pos)
			}
			from := max(pos, sg.off) - sg.off
			b := &out
			if sg.stream == Stderr {
				b = &errb
			}
			b.Write(sg.data[from:])
			pos = end
		}
	}
	emit(l.head)
	emit(l.tail)
	c.Stdout, c.Stderr = out.String(), errb.String()
	return c
}

// Size is the number of bytes written so far (kept or dropped).
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Dropped is the number of bytes left out because the buffer was full.
func (l *Log) Dropped() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped
}

// Wait returns a channel closed at the next write or at Close, and whether
// there already is output after since or the log is closed.
func (l *Log) Wait(since int64) (<-chan struct{}, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed, l.closed || l.total > since
}
