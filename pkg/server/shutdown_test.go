package server_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/servagent/servagent/pkg/server"
	"github.com/servagent/servagent/pkg/server/servertest"
)

// sessionWatchers counts the goroutines that wait for an MCP session to end.
func sessionWatchers() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "server.(*Server).sessionContext.func")
}

// An MCP session still open when the server stops is closed by it: Serve
// returns with no goroutine left waiting for that session.
func TestServeLeavesNoSessionWatcher(t *testing.T) {
	before := sessionWatchers()
	inst := start(t, nil)
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	if res := call(t, cs, "execute_command", map[string]any{"command": "echo hi"}); res.IsError {
		t.Fatal(text(res))
	}
	if n := sessionWatchers(); n != before+1 {
		t.Fatalf("%d session watchers while the session is open, want %d", n, before+1)
	}
	inst.Stop() // the client never closes its session
	if n := sessionWatchers(); n != before {
		t.Fatalf("%d session watchers after Serve returned, want %d", n, before)
	}
}

// When the listener fails under Serve, Serve returns that error, and only
// after it has ended what it started: a background job does not outlive it.
func TestServeEndsJobsWhenTheListenerFails(t *testing.T) {
	cfg := servertest.Config(t, nil)
	srv, err := server.New(server.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), ShutdownTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln := servertest.Listen(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	cs := servertest.Connect(t, "http://"+ln.Addr().String(), cfg.APIKey, "streamable", nil)
	out, _ := execOut(t, cs, map[string]any{"command": `echo $$ > pgid; echo up; exec sleep 300`, "background": true})
	readJobUntil(t, cs, out.JobID, out.Stdout, "up")
	pgid := pgidIn(cfg.WorkDir)

	ln.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Serve returned %v, want the listener's error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after its listener failed")
	}
	if left := groupAlive(pgid); len(left) > 0 {
		t.Fatalf("job processes outlived Serve: %v", left)
	}
}

// A session that never made a tool call is closed at shutdown too: no
// goroutine of the SDK's is left serving it.
func TestServeClosesSessionsThatMadeNoCall(t *testing.T) {
	count := func() int {
		buf := make([]byte, 1<<22)
		buf = buf[:runtime.Stack(buf, true)]
		return strings.Count(string(buf), "mcp.(*streamableServerConn).Read(")
	}
	before := count()
	inst := start(t, nil)
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if count() <= before {
		t.Fatal("the open session shows no goroutine: the test would prove nothing")
	}
	inst.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for count() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(); n > before {
		t.Fatalf("%d goroutines of a session still served after Serve returned (before: %d)", n, before)
	}
}
