package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/bench/floorsrv"
	"github.com/servagent/servagent/pkg/instructions"
	"github.com/servagent/servagent/pkg/server"
	"github.com/servagent/servagent/pkg/server/servertest"
)

// ---- latency statistics ----

type lat []time.Duration

func (l lat) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// reportPair reports p50/p95 of servagent and the floor and the p50 and p95
// ratios (servagent / floor: above 1 means servagent is slower).
func reportPair(b *testing.B, sa, fl lat) {
	b.ReportMetric(ms(sa.pct(0.50)), "sa-p50-ms")
	b.ReportMetric(ms(fl.pct(0.50)), "floor-p50-ms")
	b.ReportMetric(ms(sa.pct(0.95)), "sa-p95-ms")
	b.ReportMetric(ms(fl.pct(0.95)), "floor-p95-ms")
	if fl.pct(0.50) > 0 {
		b.ReportMetric(float64(sa.pct(0.50))/float64(fl.pct(0.50)), "ratio-p50")
	}
	if fl.pct(0.95) > 0 {
		b.ReportMetric(float64(sa.pct(0.95))/float64(fl.pct(0.95)), "ratio-p95")
	}
}

// ---- in-process servers ----

type target struct {
	name string
	url  string
	key  string
}

// startServagent runs the real servagent server in-process on loopback
// with every tool, as servertest does for the integration tests.
func startServagent(b *testing.B) (target, string) {
	b.Helper()
	cfg := servertest.Config(b, nil)
	// Instructions as `servagent serve` builds them (host probe once, skills
	// rendered per session), so the per-session cost is the real one.
	ib := &instructions.Builder{Host: instructions.Probe(context.Background(), cfg.WorkDir), SkillsDir: cfg.SkillsDir,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	inst := servertest.Start(b, server.Options{Config: cfg, Instructions: ib.Build})
	return target{"servagent", inst.URL, inst.Key}, cfg.WorkDir
}

// startFloor runs the floor in-process on loopback.
func startFloor(b *testing.B) target {
	b.Helper()
	ts := httptest.NewServer(floorsrv.Handler(""))
	b.Cleanup(ts.Close)
	return target{"floor", ts.URL, ""}
}

// dial opens one MCP session over Streamable HTTP with its own transport,
// as a separate client would.
func dial(b *testing.B, t target) *mcp.ClientSession {
	b.Helper()
	return dialAs(b, t, servertest.Streamable)
}

// dialAs is dial over one of servertest's transports (e.g. PerRequest).
func dialAs(b *testing.B, t target, transport string) *mcp.ClientSession {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Minute}
	b.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := servertest.Dial(ctx, t.url, t.key, transport, nil, tr)
	if err != nil {
		b.Fatalf("dial %s: %v", t.name, err)
	}
	b.Cleanup(func() { cs.Close() })
	return cs
}

// caller returns a function making one tools/call and checking that the
// result is not an error and contains want.
func caller(cs *mcp.ClientSession, tool string, args map[string]any, want string) func() error {
	return func() error {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
		if err != nil {
			return fmt.Errorf("%s: %w", tool, err)
		}
		text := ""
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				text += tc.Text
			}
		}
		if res.IsError || !strings.Contains(text, want) {
			return fmt.Errorf("%s: unexpected result (error=%v): %.300q", tool, res.IsError, text)
		}
		return nil
	}
}

func timed(f func() error) (time.Duration, error) {
	t := time.Now()
	err := f()
	return time.Since(t), err
}

// ---- separate processes ----

// gated skips the benchmarks that spawn the binaries unless SERVAGENT_BENCH=1.
func gated(b *testing.B) {
	if os.Getenv("SERVAGENT_BENCH") != "1" {
		b.Skip("spawns the servagent and floor binaries and measures RSS/cold start/uploads to disk; set SERVAGENT_BENCH=1 or run bash bench/run.sh")
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	bins      = map[string]string{}
)

// binaries returns the servagent and floor binaries: SERVAGENT_BENCH_BIN
// and SERVAGENT_BENCH_FLOOR_BIN when set (run.sh builds them), else built
// once into a temporary directory.
func binaries(b *testing.B) (sa, fl string) {
	b.Helper()
	buildOnce.Do(func() {
		bins["sa"], bins["floor"] = os.Getenv("SERVAGENT_BENCH_BIN"), os.Getenv("SERVAGENT_BENCH_FLOOR_BIN")
		if bins["sa"] != "" && bins["floor"] != "" {
			return
		}
		buildDir, buildErr = os.MkdirTemp("", "servagent-bench-bin-")
		if buildErr != nil {
			return
		}
		for name, pkg := range map[string]string{"sa": "github.com/servagent/servagent/cmd/servagent", "floor": "github.com/servagent/servagent/bench/floor"} {
			if bins[name] != "" {
				continue
			}
			out := filepath.Join(buildDir, name)
			if o, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, o)
				return
			}
			bins[name] = out
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return bins["sa"], bins["floor"]
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

const benchKey = "bench-key-0123456789abcdef"

// proc is a server running as its own process.
type proc struct {
	name string
	cmd  *exec.Cmd
	port int
	url  string
	key  string
	dir  string // its working / upload directory
}

func freePort(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// command prepares (does not start) servagent serve or the floor on a free
// port, with a clean environment and its own temp directory as cwd.
func command(b *testing.B, which string, extraEnv ...string) *proc {
	b.Helper()
	saBin, flBin := binaries(b)
	dir, err := os.MkdirTemp("", "servagent-bench-"+which+"-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	port := freePort(b)
	p := &proc{name: which, port: port, url: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LANG=C.UTF-8"}
	if which == "servagent" {
		envFile := filepath.Join(dir, "empty.env")
		if err := os.WriteFile(envFile, nil, 0o600); err != nil {
			b.Fatal(err)
		}
		p.key = benchKey
		p.cmd = exec.Command(saBin, "serve", "--env-file", envFile)
		env = append(env,
			"SERVAGENT_API_KEY="+benchKey,
			"SERVAGENT_HOST=127.0.0.1",
			"SERVAGENT_PORT="+strconv.Itoa(port),
			"SERVAGENT_TOOLS=all",
			"SERVAGENT_WORK_DIR="+dir,
			"SERVAGENT_LOG_LEVEL=WARNING",
		)
	} else {
		p.cmd = exec.Command(flBin, "-addr", fmt.Sprintf("127.0.0.1:%d", port), "-upload-dir", dir)
	}
	p.cmd.Env = append(env, extraEnv...)
	p.cmd.Dir = dir
	if os.Getenv("SERVAGENT_BENCH_VERBOSE") == "1" {
		p.cmd.Stdout, p.cmd.Stderr = os.Stderr, os.Stderr
	}
	return p
}

func (p *proc) start(b *testing.B) {
	b.Helper()
	if err := p.cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", p.name, err)
	}
	b.Cleanup(p.stop)
}

func (p *proc) stop() {
	if p.cmd.Process == nil || p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// waitHealthy polls GET /healthz until it answers 200.
func (p *proc) waitHealthy(b *testing.B) {
	b.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("%s did not become healthy on %s", p.name, p.url)
}

func (p *proc) target() target { return target{p.name, p.url, p.key} }

// procStatus reads fields of /proc/<pid>/status in KiB.
func procStatus(pid int) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasPrefix(k, "Vm") && !strings.HasPrefix(k, "Rss") {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 2 && fs[1] == "kB" {
			n, _ := strconv.ParseInt(fs[0], 10, 64)
			out[k] = n
		}
	}
	return out, sc.Err()
}

func (p *proc) status(b *testing.B) map[string]int64 {
	b.Helper()
	st, err := procStatus(p.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// resetPeak resets VmHWM to the current RSS (Linux >= 4.0).
func (p *proc) resetPeak(b *testing.B) {
	b.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.cmd.Process.Pid), []byte("5"), 0); err != nil {
		b.Fatalf("resetting VmHWM: %v", err)
	}
}

func mib(kib int64) float64 { return float64(kib) / 1024 }
