package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A request carrying one of the routing headers (Mcp-Method, Mcp-Name,
// MCP-Protocol-Version) twice is refused with 400 and the JSON-RPC
// header-mismatch error before the SDK sees it: the SDK checks only the
// first value, and whatever reads the second would see another call than
// the one that runs. Nothing runs; the same call with single values does.
func TestRepeatedRoutingHeadersAreRefused(t *testing.T) {
	inst := start(t, nil)
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}},`
	post := func(file string, hdr [][2]string) (int, []byte) {
		body := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{` + meta + `"name":"execute_command","arguments":{"command":"touch ` + file + `"}}}`
		req, _ := http.NewRequest("POST", inst.URL+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+inst.Key)
		for _, h := range hdr {
			req.Header.Add(h[0], h[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	single := [][2]string{{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/call"}, {"Mcp-Name", "execute_command"}}
	for _, c := range []struct {
		header, extra string
	}{
		{"Mcp-Name", "read_file"},
		{"Mcp-Method", "tools/list"},
		{"MCP-Protocol-Version", "2025-06-18"},
	} {
		file := "ran-" + strings.ToLower(c.header)
		code, body := post(file, append(append([][2]string{}, single...), [2]string{c.header, c.extra}))
		var msg struct {
			ID    json.RawMessage `json:"id"`
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(body, &msg); err != nil || code != 400 || msg.Error.Code != -32020 || string(msg.ID) != "7" {
			t.Errorf("%s twice: %d %s, want 400 with error -32020 and id 7", c.header, code, body)
		} else if !strings.Contains(msg.Error.Message, c.header) {
			t.Errorf("%s twice: the error does not name the header: %q", c.header, msg.Error.Message)
		}
		if _, err := os.Stat(filepath.Join(inst.Config.WorkDir, file)); err == nil {
			t.Errorf("%s twice: the command ran", c.header)
		}
	}
	if code, body := post("ran-single", single); code != 200 {
		t.Errorf("single headers: %d %.300s", code, body)
	}
	if _, err := os.Stat(filepath.Join(inst.Config.WorkDir, "ran-single")); err != nil {
		t.Errorf("single headers: the command did not run: %v", err)
	}
}
