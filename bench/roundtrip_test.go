package bench

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// pairBench runs sa and fl alternately (order flipped every iteration so
// neither always runs on a warmer cache) and reports both distributions.
// ns/op is the time of one servagent call plus one floor call.
func pairBench(b *testing.B, sa, fl func() error) {
	for range 5 { // warm up connections, schemas, page cache
		if err := sa(); err != nil {
			b.Fatal(err)
		}
		if err := fl(); err != nil {
			b.Fatal(err)
		}
	}
	saLat, flLat := make(lat, 0, b.N), make(lat, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		first, second := sa, fl
		if i%2 == 1 {
			first, second = fl, sa
		}
		d1, err := timed(first)
		if err != nil {
			b.Fatal(err)
		}
		d2, err := timed(second)
		if err != nil {
			b.Fatal(err)
		}
		if i%2 == 1 {
			d1, d2 = d2, d1
		}
		saLat, flLat = append(saLat, d1), append(flLat, d2)
	}
	b.StopTimer()
	reportPair(b, saLat, flLat)
}

// BenchmarkEchoHi: execute_command `echo hi`, one session, sequential calls,
// vs the floor's exec `echo hi`.
func BenchmarkEchoHi(b *testing.B) {
	saT, _ := startServagent(b)
	flT := startFloor(b)
	sa := caller(dial(b, saT), "execute_command", map[string]any{"command": "echo hi"}, "hi")
	fl := caller(dial(b, flT), "exec", map[string]any{"command": "echo hi"}, "hi")
	pairBench(b, sa, fl)
}

// BenchmarkNoExec: servagent's cheapest tool call, read_file of a 3-byte
// file (no process is started), vs the floor's noop: the protocol overhead.
func BenchmarkNoExec(b *testing.B) {
	saT, dir := startServagent(b)
	if err := os.WriteFile(filepath.Join(dir, "tiny.txt"), []byte("hi\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	flT := startFloor(b)
	sa := caller(dial(b, saT), "read_file", map[string]any{"path": "tiny.txt"}, "hi")
	fl := caller(dial(b, flT), "noop", map[string]any{}, "ok")
	pairBench(b, sa, fl)
}

// BenchmarkNoExecCandidates compares servagent's no-exec tools to justify
// which one BenchmarkNoExec uses (informational, no floor).
func BenchmarkNoExecCandidates(b *testing.B) {
	saT, dir := startServagent(b)
	os.WriteFile(filepath.Join(dir, "tiny.txt"), []byte("hi\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "empty"), 0o755)
	cs := dial(b, saT)
	for _, c := range []struct {
		name, tool string
		args       map[string]any
	}{
		{"read_file", "read_file", map[string]any{"path": "tiny.txt"}},
		{"list_directory", "list_directory", map[string]any{"path": "empty"}},
		{"get_environment", "get_environment", map[string]any{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := caller(cs, c.tool, c.args, "")
			for range 3 {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
			l := make(lat, 0, b.N)
			b.ResetTimer()
			for range b.N {
				d, err := timed(f)
				if err != nil {
					b.Fatal(err)
				}
				l = append(l, d)
			}
			b.ReportMetric(ms(l.pct(0.5)), "p50-ms")
		})
	}
}

const sessions = 16

// BenchmarkEchoHi16: 16 sessions (each with its own HTTP transport) calling
// execute_command `echo hi` in a loop, vs 16 sessions on the floor. b.N is
// the number of calls per server; they run in alternating blocks of
// 16×4 calls so both servers see the same box conditions. Reports per-call
// p50/p95 and calls/s; ratio-tput is floor calls/s ÷ servagent calls/s
// (above 1 means servagent is slower).
func BenchmarkEchoHi16(b *testing.B) {
	saT, _ := startServagent(b)
	flT := startFloor(b)
	var saCalls, flCalls []func() error
	for range sessions {
		saCalls = append(saCalls, caller(dial(b, saT), "execute_command", map[string]any{"command": "echo hi"}, "hi"))
		flCalls = append(flCalls, caller(dial(b, flT), "exec", map[string]any{"command": "echo hi"}, "hi"))
	}
	// block runs n calls spread over the sessions and returns the latencies
	// and the wall time.
	block := func(calls []func() error, n int) (lat, time.Duration, error) {
		var mu sync.Mutex
		var all lat
		var firstErr error
		var wg sync.WaitGroup
		start := time.Now()
		for w := range sessions {
			k := n / sessions
			if w < n%sessions {
				k++
			}
			if k == 0 {
				continue
			}
			wg.Add(1)
			go func(f func() error, k int) {
				defer wg.Done()
				local := make(lat, 0, k)
				for range k {
					d, err := timed(f)
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						return
					}
					local = append(local, d)
				}
				mu.Lock()
				all = append(all, local...)
				mu.Unlock()
			}(calls[w], k)
		}
		wg.Wait()
		return all, time.Since(start), firstErr
	}
	if _, _, err := block(saCalls, sessions); err != nil {
		b.Fatal(err)
	}
	if _, _, err := block(flCalls, sessions); err != nil {
		b.Fatal(err)
	}
	const blockSize = sessions * 4
	var saLat, flLat lat
	var saWall, flWall time.Duration
	b.ResetTimer()
	for done, i := 0, 0; done < b.N; i++ {
		n := min(blockSize, b.N-done)
		run := func(calls []func() error, l *lat, wall *time.Duration) {
			got, w, err := block(calls, n)
			if err != nil {
				b.Fatal(err)
			}
			*l = append(*l, got...)
			*wall += w
		}
		if i%2 == 0 {
			run(saCalls, &saLat, &saWall)
			run(flCalls, &flLat, &flWall)
		} else {
			run(flCalls, &flLat, &flWall)
			run(saCalls, &saLat, &saWall)
		}
		done += n
	}
	b.StopTimer()
	reportPair(b, saLat, flLat)
	saT1, flT1 := float64(len(saLat))/saWall.Seconds(), float64(len(flLat))/flWall.Seconds()
	b.ReportMetric(saT1, "sa-calls/s")
	b.ReportMetric(flT1, "floor-calls/s")
	b.ReportMetric(flT1/saT1, "ratio-tput")
}

// BenchmarkSessionSetup: a new MCP session (initialize + initialized, then
// close) on servagent vs the floor — the per-session cost, which is also
// most of the gap between listening and the first answered initialize in
// BenchmarkColdStart (informational, no target).
func BenchmarkSessionSetup(b *testing.B) {
	saT, _ := startServagent(b)
	flT := startFloor(b)
	open := func(t target) func() error {
		return func() error {
			cs := dial(b, t)
			return cs.Close()
		}
	}
	pairBench(b, open(saT), open(flT))
}
