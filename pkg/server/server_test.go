package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/servagent/servagent/internal/testutil/mcptest"
	"github.com/servagent/servagent/pkg/instructions"
	"github.com/servagent/servagent/pkg/server"
	"github.com/servagent/servagent/pkg/server/servertest"
	"github.com/servagent/servagent/pkg/tools"
)

func start(t *testing.T, env map[string]string) *servertest.Instance {
	t.Helper()
	cfg := servertest.Config(t, env)
	return servertest.Start(t, server.Options{Config: cfg, Instructions: func() string { return "test instructions" }})
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

func structured(t *testing.T, res *mcp.CallToolResult, into any) {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
}

// text is the text content of a result (short for the many call sites).
var text = mcptest.Text

func TestBothTransportsListAndCallTools(t *testing.T) {
	inst := start(t, nil)
	for _, transport := range []string{servertest.Streamable, servertest.SSE, servertest.PerRequest} {
		t.Run(transport, func(t *testing.T) {
			cs := servertest.Connect(t, inst.URL, inst.Key, transport, nil)
			if got := cs.InitializeResult().Instructions; got != "test instructions" {
				t.Errorf("instructions = %q", got)
			}
			lt, err := cs.ListTools(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(lt.Tools) != len(tools.Names()) {
				t.Errorf("got %d tools, want %d", len(lt.Tools), len(tools.Names()))
			}
			for _, tool := range lt.Tools {
				a := tool.Annotations
				if a == nil || a.Title == "" || a.DestructiveHint == nil || a.OpenWorldHint == nil {
					t.Errorf("tool %s lacks complete annotations: %+v", tool.Name, a)
				}
				if tool.OutputSchema == nil {
					t.Errorf("tool %s has no output schema", tool.Name)
				}
			}
			res := call(t, cs, "execute_command", map[string]any{"command": "echo hello; echo oops >&2; exit 3"})
			var out tools.ExecOutput
			structured(t, res, &out)
			if res.IsError || out.ExitCode != 3 || out.Stdout != "hello\n" || out.Stderr != "oops\n" {
				t.Errorf("unexpected result: isError=%v %+v", res.IsError, out)
			}
			if !strings.Contains(text(res), "exit_code: 3") {
				t.Errorf("text lacks exit code: %q", text(res))
			}
			src := filepath.Join(inst.Config.WorkDir, "src-"+transport)
			os.WriteFile(src, []byte("payload"), 0o640)
			res = call(t, cs, "upload_file", map[string]any{"source_path": src, "destination_path": "sub/dir/copy"})
			if res.IsError {
				t.Fatalf("upload_file: %s", text(res))
			}
			got, err := os.ReadFile(filepath.Join(inst.Config.WorkDir, "sub/dir/copy"))
			if err != nil || string(got) != "payload" {
				t.Fatalf("copy = %q, %v", got, err)
			}
			fi, _ := os.Stat(filepath.Join(inst.Config.WorkDir, "sub/dir/copy"))
			if fi.Mode().Perm() != 0o640 {
				t.Errorf("mode = %v, want 0640", fi.Mode().Perm())
			}
		})
	}
}

// sseMessageEndpoint opens an SSE stream with the key and returns the
// announced message endpoint, keeping the stream open until the test ends.
func sseMessageEndpoint(t *testing.T, inst *servertest.Instance) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", inst.URL+"/sse", nil)
	req.Header.Set("Authorization", "Bearer "+inst.Key)
	req.Header.Set("Accept", "text/event-stream")
	resp := send(t, req)
	buf := make([]byte, 4096)
	var got string
	for !strings.Contains(got, "\n\n") {
		n, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatalf("reading SSE: %v (got %q)", err, got)
		}
		got += string(buf[:n])
	}
	for _, line := range strings.Split(got, "\n") {
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			return v
		}
	}
	t.Fatalf("no endpoint event in %q", got)
	return ""
}

func TestAuthOnEveryProtectedEndpoint(t *testing.T) {
	inst := start(t, nil)
	msgPath := sseMessageEndpoint(t, inst)
	if !strings.HasPrefix(msgPath, "/messages/?") {
		t.Fatalf("announced endpoint %q is not under /messages/", msgPath)
	}
	initBody := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	endpoints := []struct {
		method, path, ctype, body string
	}{
		{"POST", "/mcp", "application/json", initBody},
		{"GET", "/sse", "", ""},
		{"POST", msgPath, "application/json", `{"jsonrpc":"2.0","method":"notifications/initialized"}`},
		{"POST", "/upload", "multipart/form-data; boundary=x", "--x--\r\n"},
	}
	for _, ep := range endpoints {
		for _, c := range []struct {
			name, header string
			want         int
		}{
			{"no key", "", 401},
			{"wrong key", "Bearer wrong-key", 401},
			{"wrong scheme", "Basic " + inst.Key, 401},
		} {
			t.Run(ep.path+"/"+c.name, func(t *testing.T) {
				req, _ := http.NewRequest(ep.method, inst.URL+ep.path, strings.NewReader(ep.body))
				if ep.ctype != "" {
					req.Header.Set("Content-Type", ep.ctype)
				}
				req.Header.Set("Accept", "application/json, text/event-stream")
				if c.header != "" {
					req.Header.Set("Authorization", c.header)
				}
				resp := send(t, req)
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != c.want {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.want, body)
				}
				if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
				}
				var js map[string]string
				if err := json.Unmarshal(body, &js); err != nil || js["error"] == "" {
					t.Errorf("body is not a JSON error: %s", body)
				}
				if strings.Contains(string(body), inst.Key) {
					t.Errorf("body leaks the key")
				}
			})
		}
		t.Run(ep.path+"/right key", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, ep.method, inst.URL+ep.path, strings.NewReader(ep.body))
			if ep.ctype != "" {
				req.Header.Set("Content-Type", ep.ctype)
			}
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Authorization", "Bearer "+inst.Key)
			resp := send(t, req)
			if resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode >= 500 {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
				t.Fatalf("status %d with the right key: %s", resp.StatusCode, body)
			}
		})
	}
	t.Run("healthz is public and says little", func(t *testing.T) {
		resp, err := http.Get(inst.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		json.NewDecoder(resp.Body).Decode(&m)
		if resp.StatusCode != 200 || m["status"] != "ok" || m["version"] == "" || len(m) != 2 {
			t.Fatalf("healthz: %d %v", resp.StatusCode, m)
		}
	})
}

func uploadReq(t *testing.T, url, key string, fields [][2]string, file io.Reader) *http.Response {
	t.Helper()
	var parts []part
	for _, f := range fields {
		parts = append(parts, field(f[0], f[1]))
	}
	if file != nil {
		parts = append(parts, fileField(file))
	}
	return postMultipart(t, url, key, parts)
}

// send does req and closes the response body when the test ends.
func send(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestUpload(t *testing.T) {
	inst := start(t, map[string]string{"SERVAGENT_UPLOAD_MAX_SIZE": "1048576"})
	dir := inst.Config.WorkDir
	t.Run("happy path with checksum", func(t *testing.T) {
		data := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640 KB
		resp := uploadReq(t, inst.URL, inst.Key, [][2]string{{"path", "up/a.bin"}}, bytes.NewReader(data))
		var r struct {
			Path         string `json:"path"`
			BytesWritten int64  `json:"bytes_written"`
			SHA256       string `json:"sha256"`
		}
		json.NewDecoder(resp.Body).Decode(&r)
		sum := sha256.Sum256(data)
		if resp.StatusCode != 200 || r.BytesWritten != int64(len(data)) || r.SHA256 != hex.EncodeToString(sum[:]) || r.Path != filepath.Join(dir, "up/a.bin") {
			t.Fatalf("status %d result %+v", resp.StatusCode, r)
		}
		got, _ := os.ReadFile(r.Path)
		if !bytes.Equal(got, data) {
			t.Fatal("content differs")
		}
	})
	t.Run("over limit is 413 and leaves nothing", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "keep.bin"), []byte("old"), 0o644)
		resp := uploadReq(t, inst.URL, inst.Key, [][2]string{{"path", "keep.bin"}}, io.LimitReader(zeroReader{}, 3<<20))
		if resp.StatusCode != 413 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "keep.bin"))
		if string(got) != "old" {
			t.Fatalf("destination changed: %q", got)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp") {
				t.Errorf("leftover temp file %s", e.Name())
			}
		}
	})
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	bad := []struct {
		name   string
		fields [][2]string
		file   io.Reader
		want   string
	}{
		{"missing file", [][2]string{{"path", "x"}}, nil, "missing field file"},
		{"missing path", nil, strings.NewReader("x"), "missing field path"},
		{"path is a directory", [][2]string{{"path", "adir"}}, strings.NewReader("x"), "existing directory"},
		{"parent missing without create_dirs", [][2]string{{"path", "nope/x"}, {"create_dirs", "false"}}, strings.NewReader("x"), "does not exist"},
		{"bad create_dirs", [][2]string{{"path", "x"}, {"create_dirs", "maybe"}}, strings.NewReader("x"), "create_dirs"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			resp := uploadReq(t, inst.URL, inst.Key, b.fields, b.file)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 400 || !strings.Contains(string(body), b.want) {
				t.Fatalf("status %d body %s, want 400 containing %q", resp.StatusCode, body, b.want)
			}
		})
	}
	t.Run("symlink destination writes its target; a FIFO is refused", func(t *testing.T) {
		target := filepath.Join(dir, "real.conf")
		os.WriteFile(target, []byte("old"), 0o640)
		os.Symlink(target, filepath.Join(dir, "link.conf"))
		resp := uploadReq(t, inst.URL, inst.Key, [][2]string{{"path", "link.conf"}}, strings.NewReader("new"))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if fi, _ := os.Lstat(filepath.Join(dir, "link.conf")); fi.Mode()&os.ModeSymlink == 0 {
			t.Fatal("the symlink was replaced by a file")
		}
		if b, _ := os.ReadFile(target); string(b) != "new" {
			t.Fatalf("target = %q", b)
		}
		syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644)
		resp = uploadReq(t, inst.URL, inst.Key, [][2]string{{"path", "fifo"}}, strings.NewReader("x"))
		if fi, _ := os.Lstat(filepath.Join(dir, "fifo")); resp.StatusCode != 400 || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Fatalf("FIFO: status %d, mode %v", resp.StatusCode, fi.Mode())
		}
	})
	t.Run("not multipart", func(t *testing.T) {
		req, _ := http.NewRequest("POST", inst.URL+"/upload", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+inst.Key)
		resp := send(t, req)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "multipart") {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestConcurrentCallsBurst(t *testing.T) {
	inst := start(t, nil)
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "execute_command",
				Arguments: map[string]any{"command": fmt.Sprintf("echo %d", i)}})
			if err != nil {
				errs <- err
				return
			}
			var out tools.ExecOutput
			b, _ := json.Marshal(res.StructuredContent)
			json.Unmarshal(b, &out)
			if out.Stdout != fmt.Sprintf("%d\n", i) {
				errs <- fmt.Errorf("call %d got %q", i, out.Stdout)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSkillsReloadWithoutRestart edits a SKILL.md while the server runs; the
// next session's instructions carry the new text.
func TestSkillsReloadWithoutRestart(t *testing.T) {
	cfg := servertest.Config(t, nil)
	skillsDir := t.TempDir()
	os.MkdirAll(filepath.Join(skillsDir, "mail"), 0o755)
	os.WriteFile(filepath.Join(skillsDir, "mail", "SKILL.md"), []byte("Relay: smtp-one\n"), 0o644)
	b := &instructions.Builder{Host: instructions.Host{OS: "x"}, SkillsDir: skillsDir}
	inst := servertest.Start(t, server.Options{Config: cfg, Instructions: b.Build})
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	if got := cs.InitializeResult().Instructions; !strings.Contains(got, "### mail") || !strings.Contains(got, "smtp-one") {
		t.Fatalf("skill missing:\n%s", got)
	}
	os.WriteFile(filepath.Join(skillsDir, "mail", "SKILL.md"), []byte("Relay: smtp-two\n"), 0o644)
	cs2 := servertest.Connect(t, inst.URL, inst.Key, "sse", nil)
	if got := cs2.InitializeResult().Instructions; !strings.Contains(got, "smtp-two") || strings.Contains(got, "smtp-one") {
		t.Fatalf("edited skill not in the new session:\n%s", got)
	}
}

// TestInsecureModeRefusesBrowsers: without a credential, a web page must not
// be able to reach the server (cross-site POST to /upload, DNS rebinding).
func TestInsecureModeRefusesBrowsers(t *testing.T) {
	cfg := servertest.Config(t, map[string]string{"SERVAGENT_API_KEY": ""})
	cfg.InsecureNoAuth = true
	inst := servertest.Start(t, server.Options{Config: cfg})
	dest := filepath.Join(cfg.WorkDir, "written")
	for name, hdr := range map[string][2]string{
		"foreign Host":       {"Host", "evil.example:8765"},
		"stray bracket Host": {"Host", "127.0.0.1]"},
		"foreign Origin":     {"Origin", "https://evil.example"},
		"cross-site fetch":   {"Sec-Fetch-Site", "cross-site"},
		"same-site subframe": {"Sec-Fetch-Site", "same-site"},
	} {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("path", dest)
		fw, _ := mw.CreateFormFile("file", "x")
		fw.Write([]byte("pwned"))
		mw.Close()
		req, _ := http.NewRequest("POST", inst.URL+"/upload", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if hdr[0] == "Host" {
			req.Host = hdr[1]
		} else {
			req.Header.Set(hdr[0], hdr[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("%s: status %d, want 403", name, resp.StatusCode)
		}
		if _, err := os.Stat(dest); err == nil {
			t.Fatalf("%s: the file was written", name)
		}
	}
	// A local, non-browser client still works.
	resp := uploadReq(t, inst.URL, "", [][2]string{{"path", dest}}, strings.NewReader("ok"))
	if resp.StatusCode != 200 {
		t.Fatalf("local client refused: %d", resp.StatusCode)
	}
}
