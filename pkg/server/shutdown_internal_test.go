package server

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/config"
	"github.com/servagent/servagent/pkg/tools"
)

type bearer struct{ key string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

// stopDuringBlockingCall serves a server whose current MCP server also has
// a tool "block" that runs block, calls it over a 2025-06-18 session, stops
// the server while block runs, and fails the test unless Serve returns.
func stopDuringBlockingCall(t *testing.T, block func(ctx context.Context)) {
	t.Helper()
	env := map[string]string{"SERVAGENT_HOST": "127.0.0.1", "SERVAGENT_API_KEY": "test-key-0123456789", "SERVAGENT_WORK_DIR": t.TempDir()}
	cfg, err := config.Load(config.LoadOptions{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Environ:   []string{}, DefaultEnvFiles: []string{}, ValidTools: tools.Names(),
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: cfg, ShutdownTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := s.newMCPServer(&http.Request{Header: http.Header{}})
	mcp.AddTool(srv, &mcp.Tool{Name: "block"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		close(started)
		block(ctx)
		return &mcp.CallToolResult{}, nil, nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil).Connect(context.Background(),
		&mcp.StreamableClientTransport{Endpoint: "http://" + ln.Addr().String() + "/mcp", HTTPClient: &http.Client{Transport: bearer{cfg.APIKey}}},
		// A session (2025-06-18): its calls end with the session, not with
		// an HTTP request as 2026-07-28 calls do.
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-06-18"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	go cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "block"})
	<-started
	stop()
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still waits for the call after the shutdown grace")
	}
}

// A call that is not a process (a long copy_path, a listing on a hung
// mount) is cancelled at the end of the grace period: Serve returns, and
// the call with it.
func TestServeCancelsCallsThatAreNotProcesses(t *testing.T) {
	ended := make(chan struct{})
	stopDuringBlockingCall(t, func(ctx context.Context) {
		<-ctx.Done()
		close(ended)
	})
	select {
	case <-ended:
	case <-time.After(2 * time.Second):
		t.Fatal("the call's context was never cancelled")
	}
}

// A call that ignores its context cannot hold the process for ever: Serve
// gives up on it after the grace period.
func TestServeDoesNotWaitForEverForACallThatIgnoresShutdown(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stopDuringBlockingCall(t, func(context.Context) { <-release })
}
