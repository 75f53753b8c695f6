package tools

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// peakHeapGrowth runs fn while sampling the heap every millisecond and
// returns the largest HeapAlloc seen above the starting level.
func peakHeapGrowth(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > base && m.HeapAlloc-base > peak.Load() {
				peak.Store(m.HeapAlloc - base)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak.Load()
}

func bigSparse(tb testing.TB) (*Env, string) {
	tb.Helper()
	env := newTestEnv(tb)
	p := filepath.Join(env.WorkDir, "1g.log")
	makeIslands(tb, p, 1<<30)
	return env, p
}

// TestReadFileRangeBoundedMemory: reading ranges of a 1 GB file (including
// a 512 MB line of NULs in the way, and the counting pass of a tail) keeps
// the heap growth under 16 MiB.
// Serial: the heap is sampled process-wide, so a parallel test's allocations would count.
func TestReadFileRangeBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 1 GB of sparse file")
	}
	env, p := bigSparse(t)
	for _, in := range []ReadFileInput{
		{Path: p, Offset: 1001, Limit: 100}, // middle, after a 512 MB line
		{Path: p, Offset: -100},             // tail: backwards seek + counting pass
		{Path: p, Offset: 1000, Limit: 1},   // the 512 MB line itself, cut at the cap
	} {
		var out ReadFileOutput
		var err error
		grow := peakHeapGrowth(func() { _, out, err = env.readFile(context.Background(), nil, in) })
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("offset=%d limit=%d: %d lines, %d bytes returned, peak heap growth %.2f MiB", in.Offset, in.Limit, out.LinesReturned, len(out.Content), float64(grow)/(1<<20))
		if grow > 16<<20 {
			t.Errorf("offset=%d: heap grew by %d bytes reading a range", in.Offset, grow)
		}
		if in.Offset == -100 && (out.TotalLines != 3000 || !out.TotalExact || out.StartLine != 2900) {
			t.Errorf("tail: %+v", out)
		}
	}
}

func BenchmarkReadFileRange1GB(b *testing.B) {
	env, p := bigSparse(b)
	for _, bc := range []struct {
		name string
		in   ReadFileInput
	}{
		{"middle", ReadFileInput{Path: p, Offset: 1001, Limit: 100}},
		{"tail", ReadFileInput{Path: p, Offset: -100}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var returned int
			var peak uint64
			for b.Loop() {
				grow := peakHeapGrowth(func() {
					_, out, err := env.readFile(context.Background(), nil, bc.in)
					if err != nil {
						b.Fatal(err)
					}
					returned = len(out.Content)
				})
				peak = max(peak, grow)
			}
			b.ReportMetric(float64(returned), "bytes-returned/op")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

func BenchmarkListDirectory100k(b *testing.B) {
	env := newTestEnv(b)
	dir := filepath.Join(env.WorkDir, "many")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range 100_000 {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("file-%06d.dat", i)))
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.ReportAllocs()
	var peak uint64
	var n int
	for b.Loop() {
		grow := peakHeapGrowth(func() {
			_, out, err := env.listDirectory(context.Background(), nil, ListDirectoryInput{Path: dir})
			if err != nil {
				b.Fatal(err)
			}
			if !out.Truncated {
				b.Fatal("100k entries with the default cap must be truncated")
			}
			n = out.Count
		})
		peak = max(peak, grow)
	}
	b.ReportMetric(float64(n), "entries/op")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
