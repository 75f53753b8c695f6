package bench

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkDownload fetches a SERVAGENT_BENCH_DOWNLOAD_MB file (page
// cache warm) with curl -o /dev/null over loopback from GET /download of
// the servagent binary and of the floor binary (which only io.Copies the
// file into the response: cat through curl), alternately; `cat file >
// /dev/null` is reported beside them. MiB/s of each, the ratio floor /
// servagent, and servagent's RSS growth during a download.
func BenchmarkDownload(b *testing.B) {
	gated(b)
	curl, err := exec.LookPath("curl")
	if err != nil {
		b.Skip("curl not installed: the download is measured as curl receives it")
	}
	size := sizeFromEnv(b, "SERVAGENT_BENCH_DOWNLOAD_MB")
	sa, fl := command(b, "servagent"), command(b, "floor")
	for _, p := range []*proc{sa, fl} {
		p.start(b)
		p.waitHealthy(b)
		writeGenFile(b, filepath.Join(p.dir, "big.bin"), size)
	}
	cat := func() (time.Duration, error) {
		c := exec.Command("cat", filepath.Join(fl.dir, "big.bin"))
		start := time.Now()
		err := c.Run() // stdout is /dev/null
		return time.Since(start), err
	}
	get := func(p *proc) func() (time.Duration, error) {
		return func() (time.Duration, error) {
			c := exec.Command(curl, "-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download}", "-H", "Authorization: Bearer "+p.key,
				p.url+"/download?path="+url.QueryEscape(filepath.Join(p.dir, "big.bin")))
			start := time.Now()
			out, err := c.Output()
			d := time.Since(start)
			if err == nil && string(out) != strconv.FormatInt(size, 10) {
				err = fmt.Errorf("%s: curl received %s bytes, want %d", p.name, out, size)
			}
			return d, err
		}
	}
	runs := map[string]func() (time.Duration, error){"cat": cat, "servagent": get(sa), "floor": get(fl)}
	for _, f := range runs { // warm the page cache and both servers
		if _, err := f(); err != nil {
			b.Fatal(err)
		}
	}
	mbps := map[string][]float64{}
	var growth []float64
	order := []string{"servagent", "floor", "cat"}
	b.ResetTimer()
	for i := range b.N {
		for j := range order {
			name := order[(i+j)%len(order)]
			if name == "servagent" {
				sa.resetPeak(b)
			}
			before := sa.status(b)
			d, err := runs[name]()
			if err != nil {
				b.Fatal(err)
			}
			if name == "servagent" {
				growth = append(growth, mib(max(0, sa.status(b)["VmHWM"]-before["VmRSS"])))
			}
			mbps[name] = append(mbps[name], float64(size)/(1<<20)/d.Seconds())
		}
	}
	b.StopTimer()
	b.ReportMetric(median(mbps["servagent"]), "sa-MB/s")
	b.ReportMetric(median(mbps["floor"]), "floor-MB/s")
	b.ReportMetric(median(mbps["cat"]), "cat-MB/s")
	b.ReportMetric(median(mbps["floor"])/median(mbps["servagent"]), "ratio-time")
	b.ReportMetric(maxf(growth), "sa-rss-growth-MiB")
	b.ReportMetric(float64(size>>20), "download-MiB")
}

// writeGenFile writes size bytes of the generator's block to path.
func writeGenFile(b *testing.B, path string, size int64) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	for left := size; left > 0; left -= int64(len(genBlock)) {
		if _, err := f.Write(genBlock[:min(left, int64(len(genBlock)))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
