package upload

import (
	"crypto/sha256"
	"io"
	"sync"
)

const (
	copyBufSize = 1 << 20
	copyBufs    = 4 // in flight: one being read, one being written, two being hashed
)

var bufPool = sync.Pool{New: func() any { return new([copyBufs][copyBufSize]byte) }}

// writeError is a failure of the destination, not of the request body.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// copyHashed copies src to dst in large writes while a second goroutine
// hashes the same buffers, so SHA-256 runs beside the disk writes instead of
// between them. It stops after limit+1 bytes: n > limit means too large.
func copyHashed(dst io.Writer, src io.Reader, limit int64) (n int64, sum []byte, err error) {
	bufs := bufPool.Get().(*[copyBufs][copyBufSize]byte)
	defer bufPool.Put(bufs)
	free := make(chan []byte, copyBufs)
	for i := range bufs {
		free <- bufs[i][:]
	}
	work := make(chan []byte, copyBufs)
	done := make(chan []byte)
	go func() {
		h := sha256.New()
		for b := range work {
			h.Write(b)
			free <- b[:cap(b)]
		}
		done <- h.Sum(nil)
	}()
	src = io.LimitReader(src, limit+1)
	for {
		buf := <-free
		m, rerr := io.ReadFull(src, buf)
		if m > 0 {
			work <- buf[:m]
			if _, werr := dst.Write(buf[:m]); werr != nil {
				err = &writeError{werr}
				break
			}
			n += int64(m)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	close(work)
	sum = <-done
	// Wait until the hasher has handed every buffer back before the pool
	// gets them.
	for range copyBufs - len(free) {
		<-free
	}
	return n, sum, err
}
