package upload

import (
	"crypto/sha256"
	"io"
	"sync"
	"sync/atomic"
)

const (
	copyBufSize = 1 << 20
	copyBufs    = 6 // in flight between the reader, the writer and the hasher
)

var bufPool = sync.Pool{New: func() any { return new([copyBufs][copyBufSize]byte) }}

// writeError is a failure of the destination, not of the request body.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// copyHashed copies src to dst through a three-stage pipeline: this
// goroutine reads the request, a second one writes each buffer to dst and
// hands it to a third that hashes it. Reading the socket, the write
// syscalls and SHA-256 then run side by side instead of one after the
// other. It stops after limit+1 bytes: n > limit means too large.
func copyHashed(dst io.Writer, src io.Reader, limit int64) (n int64, sum []byte, err error) {
	bufs := bufPool.Get().(*[copyBufs][copyBufSize]byte)
	free := make(chan []byte, copyBufs)
	for i := range bufs {
		free <- bufs[i][:]
	}
	toWrite := make(chan []byte, copyBufs)
	toHash := make(chan []byte, copyBufs)
	sumc := make(chan []byte, 1)
	var werr atomic.Pointer[writeError]
	go func() {
		for b := range toWrite {
			if werr.Load() == nil {
				if _, err := dst.Write(b); err != nil {
					werr.Store(&writeError{err})
				}
			}
			toHash <- b
		}
		close(toHash)
	}()
	go func() {
		h := sha256.New()
		for b := range toHash {
			h.Write(b)
			free <- b[:cap(b)]
		}
		sumc <- h.Sum(nil)
	}()
	src = io.LimitReader(src, limit+1)
	for werr.Load() == nil {
		buf := <-free
		m, rerr := io.ReadFull(src, buf)
		if m > 0 {
			toWrite <- buf[:m]
			n += int64(m)
		} else {
			free <- buf
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	close(toWrite)
	sum = <-sumc
	// Every buffer is back once the hasher is done: the pool may have them.
	bufPool.Put(bufs)
	if we := werr.Load(); we != nil {
		return n, sum, we
	}
	return n, sum, err
}
