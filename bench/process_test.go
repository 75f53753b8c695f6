package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These benchmarks run servagent and the floor as separate processes (the
// binaries) because RSS and start-up time are per-process figures. They are
// gated by SERVAGENT_BENCH=1.

// ---- 4. /upload ----

// sizeFromEnv is the size in MiB named by the environment variable
// (default 256), in bytes.
func sizeFromEnv(b *testing.B, name string) int64 {
	mb := int64(256)
	if v := os.Getenv(name); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive integer", name, v)
		}
		mb = n
	}
	return mb << 20
}

// genReader yields n bytes cycling through a 1 MiB random block, without
// holding the file in memory.
type genReader struct {
	block []byte
	off   int
	left  int64
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], g.block[g.off:])
		n += c
		g.off = (g.off + c) % len(g.block)
	}
	g.left -= int64(n)
	return n, nil
}

var genBlock = func() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}()

// upload POSTs a multipart body (path field first, then file, or the other
// way round) of size bytes, streamed from a generator, and returns the
// elapsed time.
func upload(url, key, name string, size int64, fileFirst bool) (time.Duration, error) {
	const boundary = "benchboundary7d3f9a1c"
	pathPart := "--" + boundary + "\r\n" +
		`Content-Disposition: form-data; name="path"` + "\r\n\r\n" + name + "\r\n"
	head := pathPart + "--" + boundary + "\r\n" +
		`Content-Disposition: form-data; name="file"; filename="` + name + `"` + "\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n"
	tail := "\r\n--" + boundary + "--\r\n"
	if fileFirst { // as curl -F file=@x -F path=y sends it
		head = strings.TrimPrefix(head, pathPart)
		tail = "\r\n" + pathPart + "--" + boundary + "--\r\n"
	}
	body := io.MultiReader(strings.NewReader(head), &genReader{block: genBlock, left: size}, strings.NewReader(tail))
	req, err := http.NewRequest("POST", url+"/upload", body)
	if err != nil {
		return 0, err
	}
	req.ContentLength = int64(len(head)) + size + int64(len(tail))
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	start := time.Now()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, err
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != 200 || !bytes.Contains(out, []byte(strconv.FormatInt(size, 10))) {
		return 0, fmt.Errorf("upload: %s: %s", resp.Status, out)
	}
	return d, nil
}

// BenchmarkUpload streams a SERVAGENT_BENCH_UPLOAD_MB file to POST /upload
// of the servagent binary and of the floor binary (which only io.Copies the
// part to a file: no hashing, no fsync, no rename), alternately. Reports
// MB/s (MiB/s) and RSS growth: VmHWM after the upload minus VmRSS before it,
// with VmHWM reset before each upload.
func BenchmarkUpload(b *testing.B) {
	gated(b)
	size := sizeFromEnv(b, "SERVAGENT_BENCH_UPLOAD_MB")
	sa := command(b, "servagent", "SERVAGENT_UPLOAD_MAX_SIZE="+strconv.FormatInt(size+1<<20, 10))
	fl := command(b, "floor")
	for _, p := range []*proc{sa, fl} {
		p.start(b)
		p.waitHealthy(b)
	}
	// Warm both (and take the first allocations) with a small upload.
	for _, p := range []*proc{sa, fl} {
		if _, err := upload(p.url, p.key, "warm.bin", 1<<20, false); err != nil {
			b.Fatal(err)
		}
	}
	type res struct {
		mbps, growth, cpu []float64
		base, peak        int64
	}
	results := map[string]*res{"servagent": {}, "floor": {}}
	one := func(p *proc, i int) {
		p.resetPeak(b)
		before := p.status(b)
		cpu0 := cpuTime(b, p.cmd.Process.Pid)
		name := fmt.Sprintf("up-%d.bin", i)
		// SERVAGENT_BENCH_UPLOAD_ORDER=file-first sends servagent the file
		// before the path (it spools); the floor only takes path first.
		d, err := upload(p.url, p.key, name, size, p.name == "servagent" && os.Getenv("SERVAGENT_BENCH_UPLOAD_ORDER") == "file-first")
		if err != nil {
			b.Fatalf("%s: %v", p.name, err)
		}
		after := p.status(b)
		r := results[p.name]
		r.cpu = append(r.cpu, (cpuTime(b, p.cmd.Process.Pid)-cpu0).Seconds()/(float64(size)/(1<<30)))
		r.mbps = append(r.mbps, float64(size)/(1<<20)/d.Seconds())
		g := max(0, after["VmHWM"]-before["VmRSS"])
		r.growth = append(r.growth, mib(g))
		r.base, r.peak = before["VmRSS"], max(r.peak, after["VmHWM"])
		os.Remove(filepath.Join(p.dir, name))
	}
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			one(sa, i)
			one(fl, i)
		} else {
			one(fl, i)
			one(sa, i)
		}
	}
	b.StopTimer()
	s, f := results["servagent"], results["floor"]
	b.ReportMetric(median(s.mbps), "sa-MB/s")
	b.ReportMetric(median(f.mbps), "floor-MB/s")
	b.ReportMetric(median(f.mbps)/median(s.mbps), "ratio-time")
	b.ReportMetric(median(s.cpu), "sa-cpu-s/GiB")
	b.ReportMetric(median(f.cpu), "floor-cpu-s/GiB")
	b.ReportMetric(maxf(s.growth), "sa-rss-growth-MiB")
	b.ReportMetric(maxf(f.growth), "floor-rss-growth-MiB")
	b.ReportMetric(float64(size>>20), "upload-MiB")
	b.ReportMetric(float64(size)*2/float64(b.Elapsed().Nanoseconds()/int64(b.N))*1e9/(1<<20), "MB/s-both")
	b.Logf("servagent: RSS before %.1f MiB, peak %.1f MiB; floor: RSS before %.1f MiB, peak %.1f MiB",
		mib(s.base), mib(s.peak), mib(f.base), mib(f.peak))
}

func maxf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// ---- 5. idle RSS ----

// BenchmarkIdleRSS starts each binary, waits for /healthz, opens one MCP
// session (initialize + initialized, kept open), waits 500 ms and reads
// VmRSS. One start of each per iteration; medians reported.
func BenchmarkIdleRSS(b *testing.B) {
	gated(b)
	var saRSS, flRSS, saHWM, flHWM []float64
	measure := func(which string) (rss, hwm float64) {
		p := command(b, which)
		p.start(b)
		p.waitHealthy(b)
		cs := dial(b, p.target())
		time.Sleep(500 * time.Millisecond)
		st := p.status(b)
		cs.Close()
		p.stop()
		return mib(st["VmRSS"]), mib(st["VmHWM"])
	}
	b.ResetTimer()
	for i := range b.N {
		order := []string{"servagent", "floor"}
		if i%2 == 1 {
			order = []string{"floor", "servagent"}
		}
		for _, w := range order {
			r, h := measure(w)
			if w == "servagent" {
				saRSS, saHWM = append(saRSS, r), append(saHWM, h)
			} else {
				flRSS, flHWM = append(flRSS, r), append(flHWM, h)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(median(saRSS), "sa-rss-MiB")
	b.ReportMetric(median(flRSS), "floor-rss-MiB")
	b.ReportMetric(median(saRSS)/median(flRSS), "ratio-rss")
	b.ReportMetric(median(saHWM), "sa-hwm-MiB")
	b.ReportMetric(median(flHWM), "floor-hwm-MiB")
}

// ---- 6. cold start ----

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`

// coldStart execs the binary and returns the time until the first
// initialize is answered: poll-connect the port every 0.5 ms, then POST
// initialize and read the whole answer.
func coldStart(b *testing.B, which string) (total, listen time.Duration) {
	p := command(b, which)
	defer p.stop()
	start := time.Now()
	p.start(b)
	addr := fmt.Sprintf("127.0.0.1:%d", p.port)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			listen = time.Since(start)
			break
		}
		if time.Since(start) > 15*time.Second {
			b.Fatalf("%s: no listener after 15s: %v", which, err)
		}
		time.Sleep(500 * time.Microsecond)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", p.url+"/mcp", strings.NewReader(initializeBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if p.key != "" {
		req.Header.Set("Authorization", "Bearer "+p.key)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		b.Fatalf("%s: initialize: %v", which, err)
	}
	// The answer is one SSE event (or JSON); stop at the result.
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte(`"result"`)) {
		n, err := resp.Body.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	d := time.Since(start)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(got, []byte(`"result"`)) {
		b.Fatalf("%s: initialize answered %s: %s", which, resp.Status, got)
	}
	if i := bytes.IndexByte(got, '{'); i >= 0 {
		var m map[string]any
		if json.Unmarshal(bytes.TrimSpace(bytes.SplitN(got[i:], []byte("\n"), 2)[0]), &m) != nil {
			b.Fatalf("%s: initialize answer is not JSON: %s", which, got)
		}
	}
	return d, listen
}

// BenchmarkColdStart: exec → first answered initialize, servagent vs floor,
// alternating, one warm-up each; medians reported.
func BenchmarkColdStart(b *testing.B) {
	gated(b)
	coldStart(b, "servagent")
	coldStart(b, "floor")
	var sa, fl, saL, flL []float64
	one := func(which string) {
		t, l := coldStart(b, which)
		if which == "servagent" {
			sa, saL = append(sa, ms(t)), append(saL, ms(l))
		} else {
			fl, flL = append(fl, ms(t)), append(flL, ms(l))
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			one("servagent")
			one("floor")
		} else {
			one("floor")
			one("servagent")
		}
	}
	b.StopTimer()
	b.ReportMetric(median(sa), "sa-ms")
	b.ReportMetric(median(fl), "floor-ms")
	b.ReportMetric(median(sa)/median(fl), "ratio-p50")
	// Time until the port accepts connections (the rest is the first
	// initialize: building the session's server).
	b.ReportMetric(median(saL), "sa-listen-ms")
	b.ReportMetric(median(flL), "floor-listen-ms")
}
