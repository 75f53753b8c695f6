package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/pkg/logtest"
	"github.com/servagent/servagent/pkg/server"
	"github.com/servagent/servagent/pkg/server/servertest"
)

// rpc2026 posts one MCP 2026-07-28 request (headers and _meta as the spec
// wants them) and returns the response; hdr overrides headers.
func rpc2026(t *testing.T, ctx context.Context, url, key, method, name, params string, hdr map[string]string) *http.Response {
	t.Helper()
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
	if params == "" {
		params = "{" + meta + "}"
	} else {
		params = "{" + meta + "," + strings.TrimPrefix(params, "{")
	}
	body := `{"jsonrpc":"2.0","id":7,"method":"` + method + `","params":` + params + `}`
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", method)
	if name != "" {
		req.Header.Set("Mcp-Name", name)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return send(t, req)
}

// rpcResult reads a JSON or SSE response and returns its JSON-RPC message.
func rpcResult(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	raw, _ := io.ReadAll(resp.Body)
	body := string(raw)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, "data: "); ok && strings.Contains(v, `"id"`) {
				body = v
			}
		}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%d %q: %v", resp.StatusCode, raw, err)
	}
	return m
}

// The go-sdk client in 2026-07-28 mode gets no session, finds the
// instructions in server/discover and calls tools; a legacy session on the
// same /mcp keeps working beside it.
func TestPerRequestBesideLegacySessions(t *testing.T) {
	var logs logtest.Buffer
	cfg := servertest.Config(t, nil)
	inst := servertest.Start(t, server.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Instructions: func() string { return "per-request instructions" }})
	cs := servertest.Connect(t, inst.URL, inst.Key, servertest.PerRequest, nil)
	ir := cs.InitializeResult()
	if ir.ProtocolVersion != "2026-07-28" || cs.ID() != "" {
		t.Fatalf("protocol %q, session %q: want 2026-07-28 without a session", ir.ProtocolVersion, cs.ID())
	}
	if ir.Instructions != "per-request instructions" {
		t.Errorf("instructions in server/discover = %q", ir.Instructions)
	}
	legacy := servertest.Connect(t, inst.URL, inst.Key, servertest.Streamable, nil)
	if legacy.ID() == "" || legacy.InitializeResult().ProtocolVersion != "2025-11-25" {
		t.Fatalf("legacy session: id %q, version %q", legacy.ID(), legacy.InitializeResult().ProtocolVersion)
	}
	for name, c := range map[string]*mcp.ClientSession{"per-request": cs, "legacy": legacy} {
		res := call(t, c, "execute_command", map[string]any{"command": "echo " + name})
		if res.IsError || !strings.Contains(text(res), name) {
			t.Errorf("%s: %s", name, text(res))
		}
	}
	// The audit line of a per-request call: tool, credential, no session.
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "tool call") && strings.Contains(l, `session=""`) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no audit line for the per-request call in %q", logs.String())
	}
	for _, want := range []string{"tool=execute_command", "auth=api_key", "outcome=ok", `(16 chars)`} {
		if !strings.Contains(line, want) {
			t.Errorf("audit line %q lacks %s", line, want)
		}
	}
}

// A 2026-07-28 server/discover reads the current instructions (an edited
// SKILL.md shows at the next discover), while tools/call, which arrives
// without a session every time, does not re-read them.
func TestPerRequestInstructionsReadOnDiscover(t *testing.T) {
	var reads atomic.Int64
	var current atomic.Value
	current.Store("skills v1")
	cfg := servertest.Config(t, nil)
	inst := servertest.Start(t, server.Options{Config: cfg, Instructions: func() string {
		reads.Add(1)
		return current.Load().(string)
	}})
	cs := servertest.Connect(t, inst.URL, inst.Key, servertest.PerRequest, nil)
	if got := cs.InitializeResult().Instructions; got != "skills v1" {
		t.Fatalf("instructions = %q", got)
	}
	before := reads.Load()
	for range 5 {
		if res := call(t, cs, "execute_command", map[string]any{"command": "true"}); res.IsError {
			t.Fatal(text(res))
		}
	}
	if n := reads.Load() - before; n != 0 {
		t.Errorf("5 tools/call read the instructions %d times, want 0", n)
	}
	current.Store("skills v2")
	again := servertest.Connect(t, inst.URL, inst.Key, servertest.PerRequest, nil)
	if got := again.InitializeResult().Instructions; got != "skills v2" {
		t.Errorf("after the edit, server/discover gave %q, want the new text", got)
	}
	if res := call(t, again, "execute_command", map[string]any{"command": "echo fresh"}); res.IsError || !strings.Contains(text(res), "fresh") {
		t.Errorf("call after the rebuild: %s", text(res))
	}
}

// Authentication is the same matrix: no key, a wrong key and the OAuth
// token of another method behave as on legacy sessions.
func TestPerRequestAuthentication(t *testing.T) {
	inst := startStaticOAuth(t, opClientID, nil)
	tok := clientToken(t, inst.URL, opClientID, opClientSecret)
	ctx := context.Background()
	for _, c := range []struct {
		key  string
		code int
	}{{"", 401}, {"wrong", 401}, {inst.Key, 200}, {tok.AccessToken, 200}} {
		resp := rpc2026(t, ctx, inst.URL, c.key, "tools/list", "", "", nil)
		if resp.StatusCode != c.code {
			t.Errorf("key %.8q: %d, want %d", c.key, resp.StatusCode, c.code)
		}
		if c.code == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "resource_metadata=") {
			t.Errorf("401 without the OAuth challenge: %q", resp.Header.Get("WWW-Authenticate"))
		}
	}
	cs := servertest.Connect(t, inst.URL, tok.AccessToken, servertest.PerRequest, nil)
	if res := call(t, cs, "execute_command", map[string]any{"command": "echo oauth-per-request"}); res.IsError {
		t.Fatal(text(res))
	}
}

// Progress notifications reach a per-request client on the response stream.
func TestPerRequestProgress(t *testing.T) {
	inst := start(t, nil)
	var got atomic.Int32
	cs := servertest.Connect(t, inst.URL, inst.Key, servertest.PerRequest, &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { got.Add(1) },
	})
	params := &mcp.CallToolParams{Name: "execute_command", Arguments: map[string]any{"command": "sleep 6"}}
	params.SetProgressToken("tok-2026")
	if _, err := cs.CallTool(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	if got.Load() < 1 {
		t.Fatal("no progress notification during a 6 s per-request command")
	}
}

// Closing the response stream of a 2026-07-28 call cancels it: the
// command's whole process group dies.
func TestPerRequestClosingTheStreamKillsTheCommand(t *testing.T) {
	inst := start(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The response stream stays open while the command runs; the test
		// closes it by cancelling the request.
		meta := `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
		body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":` + meta + `,"name":"execute_command","arguments":{"command":"echo $$ > pgid; sleep 300 & sleep 300"}}}`
		req, _ := http.NewRequestWithContext(ctx, "POST", inst.URL+"/mcp", strings.NewReader(body))
		for k, v := range map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
			"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "execute_command", "Authorization": "Bearer " + inst.Key} {
			req.Header.Set(k, v)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	var pgid int
	for deadline := time.Now().Add(5 * time.Second); pgid == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		pgid = pgidIn(inst.Config.WorkDir)
	}
	if pgid == 0 || len(groupAlive(pgid)) == 0 {
		t.Fatal("the command did not start")
	}
	cancel()
	<-done
	waitGroupGone(t, pgid, 5*time.Second, "the closed stream")
}

// tools/list is in a fixed order with caching hints; a header that does
// not match the body is refused as the spec says (400, -32020).
func TestPerRequestToolsListAndHeaderMismatch(t *testing.T) {
	inst := start(t, nil)
	ctx := context.Background()
	var names [2][]string
	for i := range names {
		m := rpcResult(t, rpc2026(t, ctx, inst.URL, inst.Key, "tools/list", "", "", nil))
		res, _ := m["result"].(map[string]any)
		if res["ttlMs"] != float64(300000) || res["cacheScope"] != "private" {
			t.Errorf("caching hints: ttlMs=%v cacheScope=%v", res["ttlMs"], res["cacheScope"])
		}
		list, _ := res["tools"].([]any)
		for _, x := range list {
			names[i] = append(names[i], x.(map[string]any)["name"].(string))
		}
	}
	if len(names[0]) == 0 || strings.Join(names[0], ",") != strings.Join(names[1], ",") {
		t.Fatalf("tools/list order differs between calls: %v / %v", names[0], names[1])
	}
	for i := 1; i < len(names[0]); i++ {
		if names[0][i-1] >= names[0][i] {
			t.Fatalf("tools/list not sorted by name: %v", names[0])
		}
	}
	d := rpcResult(t, rpc2026(t, ctx, inst.URL, inst.Key, "server/discover", "", "", nil))
	if res, _ := d["result"].(map[string]any); res["ttlMs"] != float64(60000) || res["cacheScope"] != "private" {
		t.Errorf("server/discover caching hints: %v", d)
	}

	for name, hdr := range map[string]map[string]string{
		"Mcp-Method differs": {"Mcp-Method": "tools/list"},
		"Mcp-Name differs":   {"Mcp-Name": "read_file"},
	} {
		resp := rpc2026(t, ctx, inst.URL, inst.Key, "tools/call", "execute_command", `{"name":"execute_command","arguments":{"command":"touch ran"}}`, hdr)
		m := rpcResult(t, resp)
		e, _ := m["error"].(map[string]any)
		if resp.StatusCode != 400 || e["code"] != float64(mcp.CodeHeaderMismatch) || m["id"] != float64(7) {
			t.Errorf("%s: %d %v", name, resp.StatusCode, m)
		}
	}
	if _, err := os.Stat(filepath.Join(inst.Config.WorkDir, "ran")); err == nil {
		t.Error("a call with mismatched headers ran")
	}
}

// SERVAGENT_PROTOCOLS turns either era off, and each refusal names what
// is served so a client can switch.
func TestProtocolsSetting(t *testing.T) {
	ctx := context.Background()
	t.Run("legacy only", func(t *testing.T) {
		inst := start(t, map[string]string{"SERVAGENT_PROTOCOLS": "legacy"})
		m := rpcResult(t, rpc2026(t, ctx, inst.URL, inst.Key, "tools/list", "", "", nil))
		e, _ := m["error"].(map[string]any)
		if e["code"] != float64(mcp.CodeUnsupportedProtocolVersion) {
			t.Fatalf("2026-07-28 request with the era off: %v", m)
		}
		d := rpcResult(t, rpc2026(t, ctx, inst.URL, inst.Key, "server/discover", "", "", nil))
		if res, _ := d["result"].(map[string]any); res == nil || strings.Contains(fmtJSON(res["supportedVersions"]), "2026-07-28") {
			t.Fatalf("server/discover with the era off: %v", d)
		}
		// The go-sdk client falls back to a legacy session.
		cs, err := servertest.Dial(ctx, inst.URL, inst.Key, servertest.PerRequest, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		if cs.ID() == "" || cs.InitializeResult().ProtocolVersion >= "2026-07-28" {
			t.Fatalf("fallback: session %q, version %q", cs.ID(), cs.InitializeResult().ProtocolVersion)
		}
	})
	t.Run("2026-07-28 only", func(t *testing.T) {
		inst := start(t, map[string]string{"SERVAGENT_PROTOCOLS": "2026-07-28"})
		if code := bearerPost(t, inst.URL+"/mcp", inst.Key, nil); code != 400 {
			t.Errorf("legacy initialize with the era off: %d, want 400", code)
		}
		body := `{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
		req, _ := http.NewRequest("POST", inst.URL+"/mcp", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+inst.Key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		m := rpcResult(t, resp)
		e, _ := m["error"].(map[string]any)
		data, _ := e["data"].(map[string]any)
		if e["code"] != float64(mcp.CodeUnsupportedProtocolVersion) || m["id"] != float64(3) || len(data["supported"].([]any)) != 1 {
			t.Errorf("refusal: %v", m)
		}
		req, _ = http.NewRequest("GET", inst.URL+"/sse", nil)
		req.Header.Set("Authorization", "Bearer "+inst.Key)
		r2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r2.Body.Close()
		if r2.StatusCode != 404 {
			t.Errorf("/sse with legacy off: %d", r2.StatusCode)
		}
		cs := servertest.Connect(t, inst.URL, inst.Key, servertest.PerRequest, nil)
		if res := call(t, cs, "execute_command", map[string]any{"command": "echo only-new"}); res.IsError {
			t.Fatal(text(res))
		}
	})
}

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
