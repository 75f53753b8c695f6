package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/servagent/servagent/pkg/server"
	"github.com/servagent/servagent/pkg/server/servertest"
)

// dialFrom opens a TCP connection to addr from the loopback source ip
// (any 127.0.0.0/8 address is local on Linux), so one test plays many
// clients.
func dialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server has closed c (within wait).
func closedByServer(c net.Conn, wait time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

const lowFDHelper = "SERVAGENT_TEST_LOWFD_SERVER"

// TestLowFDServerHelper is the child process of TestSlowBodyFloodKeepsHealthz:
// a real server under a 256 file descriptor limit.
func TestLowFDServerHelper(t *testing.T) {
	if os.Getenv(lowFDHelper) == "" {
		t.Skip("child process of TestSlowBodyFloodKeepsHealthz; runs only when that test starts it")
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: 256, Max: 256}); err != nil {
		t.Fatal(err)
	}
	cfg := servertest.Config(t, nil)
	inst := servertest.Start(t, server.Options{Config: cfg, Limits: server.Limits{BodyGrace: 2 * time.Second, BodyIdle: 2 * time.Second}})
	fmt.Printf("URL=%s\n", inst.URL)
	io.Copy(io.Discard, os.Stdin) // serve until the parent closes stdin
}

// A flood of connections that trickle their bodies (one byte a second)
// from many addresses, and more from one address, must not starve
// /healthz on a server limited to 256 descriptors: bodies have a deadline
// that only a steady sender keeps pushing back, and one address holds at
// most 64 unauthenticated connections.
func TestSlowBodyFloodKeepsHealthz(t *testing.T) {
	if testing.Short() {
		t.Skip("takes ~10 s")
	}
	child := exec.Command(os.Args[0], "-test.run=^TestLowFDServerHelper$", "-test.v")
	child.Env = append(os.Environ(), lowFDHelper+"=1")
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- child.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			child.Process.Kill()
			<-done
		}
	})
	sc := bufio.NewScanner(stdout)
	var url string
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "URL="); ok {
			url = v
			break
		}
	}
	if url == "" {
		t.Fatal("the child server printed no URL")
	}
	go io.Copy(io.Discard, stdout)
	addr := strings.TrimPrefix(url, "http://")

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var cut atomic.Int64
	flood := func(ip string) {
		c := dialFrom(t, ip, addr)
		fmt.Fprintf(c, "POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", addr)
		go func() {
			for ctx.Err() == nil {
				if _, err := c.Write([]byte("{")); err != nil {
					cut.Add(1)
					return
				}
				time.Sleep(time.Second)
			}
		}()
	}
	const spread = 300
	for i := 0; i < spread; i++ {
		flood(fmt.Sprintf("127.0.%d.%d", 2+i/200, 2+i%200))
	}
	for i := 0; i < 300; i++ {
		flood("127.0.9.9")
	}
	start := time.Now()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get(url + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && bytes.Contains(b, []byte(`"ok"`)) {
				break
			}
		}
		if time.Since(start) > 12*time.Second {
			t.Fatalf("/healthz still unreachable %v into the flood (%d of 600 flood connections cut): %v", time.Since(start).Round(time.Second), cut.Load(), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("/healthz answered %v into the flood", time.Since(start).Round(100*time.Millisecond))
	// The trickling connections are cut, not only outnumbered.
	deadline := time.Now().Add(8 * time.Second)
	for cut.Load() < 550 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if n := cut.Load(); n < 550 {
		t.Errorf("only %d of 600 trickling connections were cut", n)
	}
}

// A large upload that keeps a steady pace streams for far longer than the
// body grace period; one that trickles is cut.
func TestSlowSteadyUploadSucceeds(t *testing.T) {
	if testing.Short() {
		t.Skip("takes ~5 s")
	}
	cfg := servertest.Config(t, nil)
	inst := servertest.Start(t, server.Options{Config: cfg, Limits: server.Limits{BodyGrace: time.Second, BodyMinRate: 32 << 10, BodyIdle: time.Second}})
	const size = 512 << 10
	begin := time.Now()
	resp := uploadReq(t, inst.URL, inst.Key, [][2]string{{"path", "steady.bin"}}, &pacedReader{left: size, chunk: 8 << 10, every: 80 * time.Millisecond})
	b, _ := io.ReadAll(resp.Body)
	took := time.Since(begin)
	if resp.StatusCode != 200 {
		t.Fatalf("steady upload: %d %s", resp.StatusCode, b)
	}
	fi, err := os.Stat(filepath.Join(cfg.WorkDir, "steady.bin"))
	if err != nil || fi.Size() != size {
		t.Fatalf("uploaded file: %v %v", fi, err)
	}
	if took < 4*time.Second {
		t.Fatalf("upload took %v; the test needs it to outlast the 1 s grace by far", took)
	}
	t.Logf("512 KiB at ~100 KiB/s took %v with a 1 s grace", took.Round(100*time.Millisecond))

	// Same server, a body that sends one byte every 300 ms.
	begin = time.Now()
	trickle := &pacedReader{left: size, chunk: 1, every: 300 * time.Millisecond}
	pr, pw := io.Pipe()
	go func() { _, err := io.Copy(pw, trickle); pw.CloseWithError(err) }()
	tctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(tctx, "POST", inst.URL+"/upload?path=trickle.bin", pr)
	req.Header.Set("Authorization", "Bearer "+inst.Key)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	r2, err := http.DefaultClient.Do(req)
	if err == nil {
		io.Copy(io.Discard, r2.Body)
		r2.Body.Close()
		if r2.StatusCode == 200 {
			t.Fatal("a trickling upload succeeded")
		}
	}
	trickle.stop.Store(true)
	if tctx.Err() != nil {
		t.Fatal("a trickling body was not cut by the server within 6 s")
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Fatalf("a trickling body was cut only after %v", took)
	}
}

// pacedReader yields left bytes, chunk bytes at a time, one chunk per every.
type pacedReader struct {
	left, chunk int
	every       time.Duration
	stop        atomic.Bool
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if p.left == 0 || p.stop.Load() {
		return 0, io.EOF
	}
	time.Sleep(p.every)
	n := min(len(b), p.chunk, p.left)
	for i := range b[:n] {
		b[i] = 'x'
	}
	p.left -= n
	return n, nil
}

// One address holds at most UnauthConnsPerAddr connections before it
// authenticates; past that a new connection closes the address's oldest
// unauthenticated one. A connection that authenticates or closes stops
// counting, and other addresses are unaffected.
func TestUnauthenticatedConnectionsPerAddressCapped(t *testing.T) {
	cfg := servertest.Config(t, nil)
	inst := servertest.Start(t, server.Options{Config: cfg, Limits: server.Limits{UnauthConnsPerAddr: 4}})
	addr := strings.TrimPrefix(inst.URL, "http://")
	var held []net.Conn
	for i := 0; i < 4; i++ {
		held = append(held, dialFrom(t, "127.0.5.5", addr))
	}
	for _, c := range held {
		if closedByServer(c, 100*time.Millisecond) {
			t.Fatal("a connection within the cap was closed")
		}
	}
	held = append(held, dialFrom(t, "127.0.5.5", addr))
	if !closedByServer(held[0], 2*time.Second) {
		t.Fatal("a 5th unauthenticated connection from one address left the oldest open")
	}
	if closedByServer(held[4], 100*time.Millisecond) {
		t.Fatal("the 5th connection was closed instead of the oldest")
	}
	if closedByServer(dialFrom(t, "127.0.5.6", addr), 100*time.Millisecond) {
		t.Fatal("another address was refused")
	}
	// Authenticate on the oldest open connection: it no longer counts, so
	// a new one displaces nobody.
	fmt.Fprintf(held[1], "GET /sse HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", addr, inst.Key)
	br := bufio.NewReader(held[1])
	held[1].SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("authenticated request: %q %v", status, err)
	}
	dialFrom(t, "127.0.5.5", addr)
	if closedByServer(held[2], 200*time.Millisecond) {
		t.Fatal("the slot of a connection that authenticated was not freed")
	}
	// Closing a connection frees its slot too.
	held[2].Close()
	time.Sleep(100 * time.Millisecond)
	dialFrom(t, "127.0.5.5", addr)
	if closedByServer(held[3], 200*time.Millisecond) {
		t.Fatal("the slot of a closed connection was not freed")
	}
}
