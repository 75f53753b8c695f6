// Package servertest starts a real servagent server on a loopback port and
// connects real MCP clients to it, for integration tests and benchmarks.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/server"
	"github.com/servagent/servagent/pkg/tools"
)

// TB is the subset of testing.TB used here.
type TB interface {
	testing.TB
}

// Instance is a running server.
type Instance struct {
	URL    string // http://127.0.0.1:port
	Key    string
	Config *config.Config
	Server *server.Server
	cancel context.CancelFunc
	done   chan error
}

// Config returns a validated configuration for tests: loopback, a fixed
// key, every tool, the given working directory, no .env file.
func Config(tb TB, env map[string]string) *config.Config {
	tb.Helper()
	base := map[string]string{
		"SERVAGENT_HOST":     "127.0.0.1",
		"SERVAGENT_API_KEY":  "test-key-0123456789",
		"SERVAGENT_TOOLS":    "all",
		"SERVAGENT_WORK_DIR": tb.TempDir(),
	}
	for k, v := range env {
		base[k] = v
	}
	cfg, err := config.Load(config.LoadOptions{
		LookupEnv:       func(k string) (string, bool) { v, ok := base[k]; return v, ok },
		Environ:         []string{},
		DefaultEnvFiles: []string{},
		ValidTools:      tools.Names(),
	})
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	return cfg
}

// Listen returns a fresh loopback listener (for tests that need the URL
// before building the server, e.g. an OAuth issuer URL).
func Listen(tb TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}

// Start serves opts on a fresh loopback port until the test ends.
func Start(tb TB, opts server.Options) *Instance {
	tb.Helper()
	return StartOn(tb, opts, Listen(tb))
}

// StartOn serves opts on ln until the test ends.
func StartOn(tb TB, opts server.Options, ln net.Listener) *Instance {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 3 * time.Second
	}
	srv, err := server.New(opts)
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	inst := &Instance{Key: opts.Config.APIKey, Config: opts.Config, Server: srv, cancel: cancel, done: make(chan error, 1)}
	scheme := "http"
	if opts.Config.TLSEnabled() {
		scheme = "https"
	}
	inst.URL = scheme + "://" + ln.Addr().String()
	go func() { inst.done <- srv.Serve(ctx, ln) }()
	tb.Cleanup(inst.Stop)
	return inst
}

// Stop shuts the server down and waits for it.
func (i *Instance) Stop() {
	if i.cancel == nil {
		return
	}
	i.cancel()
	i.cancel = nil
	select {
	case <-i.done:
	case <-time.After(30 * time.Second):
	}
}

// bearerTransport adds an Authorization header to every request.
type bearerTransport struct {
	key  string
	base http.RoundTripper
}

func (b *bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.key != "" {
		r.Header.Set("Authorization", "Bearer "+b.key)
	}
	return b.base.RoundTrip(r)
}

// HTTPClient returns a client that sends the bearer key.
func HTTPClient(key string, base http.RoundTripper) *http.Client {
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{Transport: &bearerTransport{key: key, base: base}}
}

// The transports Connect and Dial speak: a legacy initialize session on
// /mcp (pinned to 2025-11-25, the SDK's newest handshake version), the
// legacy SSE stream, and per-request MCP 2026-07-28 on /mcp.
const (
	Streamable   = "streamable"
	SSE          = "sse"
	PerRequest   = "2026-07-28"
	legacyPinned = "2025-11-25"
)

// Connect opens an MCP session over Streamable, SSE or PerRequest.
func Connect(tb TB, baseURL, key, transport string, copts *mcp.ClientOptions) *mcp.ClientSession {
	tb.Helper()
	cs, err := Dial(context.Background(), baseURL, key, transport, copts, nil)
	if err != nil {
		tb.Fatalf("connect %s: %v", transport, err)
	}
	tb.Cleanup(func() { cs.Close() })
	return cs
}

// Dial is Connect without a testing.TB, returning the error.
func Dial(ctx context.Context, baseURL, key, transport string, copts *mcp.ClientOptions, base http.RoundTripper) (*mcp.ClientSession, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "servagent-test", Version: "1"}, copts)
	hc := HTTPClient(key, base)
	switch transport {
	case SSE:
		return client.Connect(ctx, &mcp.SSEClientTransport{Endpoint: baseURL + "/sse", HTTPClient: hc}, nil)
	case PerRequest:
		return client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: baseURL + "/mcp", HTTPClient: hc}, &mcp.ClientSessionOptions{ProtocolVersion: PerRequest})
	default:
		return client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: baseURL + "/mcp", HTTPClient: hc}, &mcp.ClientSessionOptions{ProtocolVersion: legacyPinned})
	}
}
