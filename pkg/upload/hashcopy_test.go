package upload

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

type failAfter struct {
	left int
	got  bytes.Buffer
}

func (f *failAfter) Write(b []byte) (int, error) {
	if f.left < len(b) {
		return 0, errors.New("disk full")
	}
	f.left -= len(b)
	return f.got.Write(b)
}

func TestCopyHashed(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{0, 1, copyBufSize - 1, copyBufSize, 3*copyBufSize + 12345, 20 * copyBufSize} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		var dst bytes.Buffer
		// A reader that returns short reads, as a multipart part does.
		n, sum, err := copyHashed(&dst, io.LimitReader(&iotestHalf{bytes.NewReader(data)}, int64(size)), int64(size))
		want := sha256.Sum256(data)
		if err != nil || n != int64(size) || !bytes.Equal(sum, want[:]) || !bytes.Equal(dst.Bytes(), data) {
			t.Fatalf("size %d: n=%d err=%v sum ok=%v content ok=%v", size, n, err, bytes.Equal(sum, want[:]), bytes.Equal(dst.Bytes(), data))
		}
	}
	// Past the limit: limit+1 bytes read, so the caller can tell.
	n, _, err := copyHashed(io.Discard, bytes.NewReader(make([]byte, 5*copyBufSize)), 2*copyBufSize)
	if err != nil || n != 2*copyBufSize+1 {
		t.Errorf("over limit: n=%d err=%v", n, err)
	}
	// A failing destination stops the copy with a writeError.
	f := &failAfter{left: 2 * copyBufSize}
	_, _, err = copyHashed(f, bytes.NewReader(make([]byte, 50*copyBufSize)), 100*copyBufSize)
	var we *writeError
	if !errors.As(err, &we) || f.got.Len() != 2*copyBufSize {
		t.Errorf("write failure: %v, %d bytes written", err, f.got.Len())
	}
}

type iotestHalf struct{ r io.Reader }

func (h *iotestHalf) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:(len(p)+1)/2]
	}
	return h.r.Read(p)
}
