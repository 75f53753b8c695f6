package server_test

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servagent/servagent/pkg/server"
	"github.com/servagent/servagent/pkg/server/servertest"
)

// Floods of wrong credentials and idle connections, as an attacker on the
// same host or behind a pass-through proxy would send them.

// wrongKeyVia sends a wrong key to /mcp with an X-Forwarded-For and Host
// and returns the status.
func wrongKeyVia(t *testing.T, c *http.Client, url, key, host, xff string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/mcp", nil)
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// idleConns opens n connections to the server from 127.0.0.1 that never
// send a byte.
func idleConns(t *testing.T, url string, n int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for range n {
		conns = append(conns, dialFrom(t, "127.0.0.1", strings.TrimPrefix(url, "http://")))
	}
	return conns
}

// With SERVAGENT_ALLOWED_HOSTS set for a reverse proxy but no
// SERVAGENT_TRUSTED_PROXIES, a loopback peer is not a proxy: its
// X-Forwarded-For is ignored, so rotating it escapes no limit, and its
// idle connections count against the cap like anyone's.
func TestAllowedHostsAloneTrustsNoLoopbackProxy(t *testing.T) {
	cfg := servertest.Config(t, map[string]string{"SERVAGENT_ALLOWED_HOSTS": "mcp.example.com"})
	inst := servertest.Start(t, server.Options{Config: cfg, Limits: server.Limits{FailurePenalty: 10 * time.Millisecond, UnauthConnsPerAddr: 8}})
	c := &http.Client{}
	first429 := 0
	for j := 1; j <= 40 && first429 == 0; j++ {
		if code := wrongKeyVia(t, c, inst.URL, fmt.Sprintf("wrong-%d", j), "mcp.example.com", fmt.Sprintf("198.51.100.%d", j)); code == 429 {
			first429 = j
		}
	}
	if first429 != 31 {
		t.Errorf("wrong keys with a rotating X-Forwarded-For from loopback: first 429 at %d, want 31", first429)
	}
	c.CloseIdleConnections()
	conns := idleConns(t, inst.URL, 20)
	time.Sleep(100 * time.Millisecond)
	alive := 0
	for _, cn := range conns {
		if !closedByServer(cn, 100*time.Millisecond) {
			alive++
		}
	}
	if alive != 8 {
		t.Errorf("%d of 20 idle loopback connections held open, want the cap of 8", alive)
	}
}

// Behind a proxy that passes a client's X-Forwarded-For through, every
// guess can claim a fresh address. The global budget still stops them:
// past 300 failures a minute, a wrong guess from any address gets 429,
// while the correct key passes.
func TestGlobalFailureCeilingStopsRotatingForwardedAddresses(t *testing.T) {
	cfg := servertest.Config(t, map[string]string{"SERVAGENT_ALLOWED_HOSTS": "mcp.example.com", "SERVAGENT_TRUSTED_PROXIES": "127.0.0.1"})
	inst := servertest.Start(t, server.Options{Config: cfg, Limits: server.Limits{FailurePenalty: 10 * time.Millisecond}})
	c := &http.Client{}
	first429 := 0
	for j := 1; j <= 320 && first429 == 0; j++ {
		xff := fmt.Sprintf("198.51.%d.%d", j/250, j%250+1)
		if code := wrongKeyVia(t, c, inst.URL, fmt.Sprintf("wrong-%d", j), "mcp.example.com", xff); code == 429 {
			first429 = j
		}
	}
	if first429 != 301 {
		t.Errorf("wrong keys, each from a fresh forwarded address: first 429 at %d, want 301", first429)
	}
	if code := bearerPost(t, inst.URL+"/mcp", inst.Key, map[string]string{"Host": "mcp.example.com", "X-Forwarded-For": "203.0.113.50"}); code != 200 {
		t.Errorf("correct key past the global budget: %d, want 200", code)
	}
}

// countingLog counts the credential checks the server logs as failed.
type countingLog struct {
	mu      sync.Mutex
	checked int
}

func (l *countingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checked += strings.Count(string(p), `reason="invalid bearer token"`)
	return len(p), nil
}

func (l *countingLog) n() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checked
}

// floodWrongKeys sends wrong keys from workers goroutines through c until
// run has passed.
func floodWrongKeys(c *http.Client, url string, workers int, run time.Duration) {
	deadline := time.Now().Add(run)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := 0; time.Now().Before(deadline); j++ {
				req, _ := http.NewRequest("POST", url+"/mcp", nil)
				req.Header.Set("Authorization", fmt.Sprintf("Bearer wrong-%d-%d", w, j))
				if resp, err := c.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
}

// Past the limit, concurrency does not multiply the guess rate: 60
// parallel connections from one address get at most two wrong keys checked
// per penalty; the rest are answered 429 unchecked. The correct key passes
// once the flood stops.
func TestParallelConnectionsDoNotMultiplyGuesses(t *testing.T) {
	var logs countingLog
	penalty := 250 * time.Millisecond
	inst := servertest.Start(t, server.Options{Config: servertest.Config(t, nil), Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Limits: server.Limits{FailurePenalty: penalty}})
	run := 2 * time.Second
	floodWrongKeys(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 60}}, inst.URL, 60, run)
	limit := 30 + 2*(int(run/penalty)+2)
	if n := logs.n(); n > limit {
		t.Errorf("60 parallel connections got %d wrong keys checked in %v, want at most %d", n, run, limit)
	} else {
		t.Logf("60 parallel connections: %d wrong keys checked in %v (at most %d)", n, run, limit)
	}
	time.Sleep(penalty)
	if code := bearerPost(t, inst.URL+"/mcp", inst.Key, nil); code != 200 {
		t.Errorf("correct key after the flood: %d, want 200", code)
	}
}

// The same over HTTP/2, where one connection carries many streams: at most
// 32 streams at once, and the in-flight bound holds as well.
func TestHTTP2StreamsDoNotMultiplyGuesses(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, 1)
	var logs countingLog
	penalty := 250 * time.Millisecond
	cfg := servertest.Config(t, map[string]string{
		"SERVAGENT_TLS_CERTFILE": filepath.Join(dir, "cert.pem"),
		"SERVAGENT_TLS_KEYFILE":  filepath.Join(dir, "key.pem"),
	})
	inst := servertest.Start(t, server.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Limits: server.Limits{FailurePenalty: penalty}})

	if got := maxConcurrentStreams(t, inst.URL); got != 32 {
		t.Errorf("server SETTINGS_MAX_CONCURRENT_STREAMS = %d, want 32", got)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true, MaxConnsPerHost: 1}
	run := 2 * time.Second
	floodWrongKeys(&http.Client{Transport: tr}, inst.URL, 120, run)
	limit := 30 + 2*(int(run/penalty)+2)
	if n := logs.n(); n > limit {
		t.Errorf("120 streams on one connection got %d wrong keys checked in %v, want at most %d", n, run, limit)
	} else {
		t.Logf("120 streams on one connection: %d wrong keys checked in %v (at most %d)", n, run, limit)
	}
}

// maxConcurrentStreams opens an HTTP/2 connection by hand and returns the
// SETTINGS_MAX_CONCURRENT_STREAMS of the server's first SETTINGS frame
// (0: not announced, which means unlimited).
func maxConcurrentStreams(t *testing.T, url string) uint32 {
	t.Helper()
	c, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// Client preface and an empty SETTINGS frame.
	if _, err := io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	for {
		var hdr [9]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			t.Fatalf("reading the server's frames: %v", err)
		}
		length := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		payload := make([]byte, length)
		if _, err := io.ReadFull(r, payload); err != nil {
			t.Fatal(err)
		}
		if hdr[3] != 0x4 || hdr[4]&0x1 != 0 { // not SETTINGS, or an ACK
			continue
		}
		for i := 0; i+6 <= len(payload); i += 6 {
			if binary.BigEndian.Uint16(payload[i:]) == 0x3 {
				return binary.BigEndian.Uint32(payload[i+2:])
			}
		}
		return 0
	}
}

// An address at its cap of unauthenticated connections loses the oldest
// one for each new connection: idle connections cannot lock out a client
// of the same address that comes with the correct key.
func TestIdleConnectionsDoNotLockOutTheCorrectKey(t *testing.T) {
	inst := servertest.Start(t, server.Options{Config: servertest.Config(t, nil), Limits: server.Limits{UnauthConnsPerAddr: 16}})
	conns := idleConns(t, inst.URL, 16)
	time.Sleep(100 * time.Millisecond)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	for i := range 10 {
		req, _ := http.NewRequest("POST", inst.URL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+inst.Key)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("correct key %d with 16 idle connections from its address: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("correct key %d: %d", i, resp.StatusCode)
		}
	}
	// The first new connection displaced the oldest idle one; the others
	// found room, as each authenticated connection stopped counting. Of
	// five more idle connections, one takes that room and four displace
	// the next four oldest.
	conns = append(conns, idleConns(t, inst.URL, 5)...)
	time.Sleep(100 * time.Millisecond)
	for i, cn := range conns {
		if want := i >= 5; !closedByServer(cn, 100*time.Millisecond) != want {
			t.Errorf("idle connection %d (oldest first): open %v, want %v", i, !want, want)
		}
	}
}
