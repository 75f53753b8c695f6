// Package logtest holds what tests need to read what concurrent code logs or
// prints: a buffer that a server's goroutines may write while the test reads.
package logtest

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Buffer is a bytes.Buffer safe for concurrent writers and readers. The zero
// value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Len is the number of bytes written so far.
func (s *Buffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// StampLatencies reads the complete lines of buf, each a time.UnixNano
// stamp a process printed when it wrote the line, and returns how long ago
// (at now) each was written, with the incomplete rest of buf. The latency
// benchmarks of jobs (in-process and over MCP) read their output this way.
func StampLatencies(buf string, now time.Time) (lat []time.Duration, rest string, err error) {
	for {
		line, after, ok := strings.Cut(buf, "\n")
		if !ok {
			return lat, buf, nil
		}
		buf = after
		ns, err := strconv.ParseInt(line, 10, 64)
		if err != nil {
			return lat, buf, fmt.Errorf("line %q is not a UnixNano stamp", line)
		}
		lat = append(lat, now.Sub(time.Unix(0, ns)))
	}
}
