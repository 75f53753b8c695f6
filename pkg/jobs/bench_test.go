package jobs

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/servagent/servagent/pkg/logtest"
	"github.com/servagent/servagent/pkg/runner"
)

// BenchmarkReadLatency: from a job writing a line (the line is the time it
// was written, taken by date(1) just before) to a waiting Read returning it.
// Target: p50 <= 20 ms.
func BenchmarkReadLatency(b *testing.B) {
	m := NewManager(Options{Runner: runner.New(), Logger: discardLogger()})
	defer m.Shutdown()
	j, err := m.Start("bench", Spec{Env: os.Environ(), Script: `for i in $(seq ` + strconv.Itoa(b.N) + `); do sleep 0.005; date +%s%N; done`})
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	var pending string
	for len(lat) < b.N {
		st := j.Read(context.Background(), ReadOptions{Wait: 5 * time.Second})
		now := time.Now()
		pending += st.Stdout
		got, rest, err := logtest.StampLatencies(pending, now)
		if err != nil {
			b.Fatal(err)
		}
		lat, pending = append(lat, got...), rest
		if !st.Running && pending == "" && len(lat) < b.N {
			b.Fatalf("job ended after %d lines", len(lat))
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkMemory16Jobs: heap held by 16 jobs that each printed 10 MB (and
// are still readable): bounded by 16 buffers of SERVAGENT_MAX_OUTPUT_SIZE
// (1 MB by default), not by the 160 MB of output.
func BenchmarkMemory16Jobs(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		m := NewManager(Options{Runner: runner.New(), Logger: discardLogger(), MaxOutput: DefaultMaxOutput})
		var js []*Job
		for k := 0; k < 16; k++ {
			j, err := m.Start("bench", Spec{Env: os.Environ(), Script: `yes 'some ten megabytes of output, line after line' | head -c 10000000`})
			if err != nil {
				b.Fatal(err)
			}
			js = append(js, j)
		}
		var peak uint64
		for _, j := range js {
			for j.Running() {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
				select {
				case <-j.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
			if st := j.status(); st.OutputSize != 10000000 {
				b.Fatalf("output %d bytes", st.OutputSize)
			}
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-min(after.HeapInuse, before.HeapInuse))/(1<<20), "retained-heap-MiB")
		b.ReportMetric(float64(peak-min(peak, before.HeapInuse))/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20)/16, "alloc-per-job-MiB")
		runtime.KeepAlive(js)
		m.Shutdown()
	}
	b.ReportMetric(0, "ns/op")
}
