// Package floorsrv is the benchmark floor: the least any MCP shell server
// over Streamable HTTP must do. A bare go-sdk server (stateful, no auth,
// no logging) with two tools — exec runs `bash -c <command>` with
// exec.CommandContext(...).Output() and returns stdout; noop returns at
// once — plus a minimal /upload that streams a multipart file to disk and
// /healthz. servagent's figures are reported as ratios to this floor.
package floorsrv

import (
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ExecInput is the argument of the exec tool.
type ExecInput struct {
	Command string `json:"command"`
}

// NoopInput is the (empty) argument of the noop tool.
type NoopInput struct{}

// NewMCPServer returns the floor MCP server.
func NewMCPServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "floor", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "exec", Description: "run bash -c command, return stdout"},
		func(ctx context.Context, _ *mcp.CallToolRequest, in ExecInput) (*mcp.CallToolResult, any, error) {
			out, err := exec.CommandContext(ctx, "bash", "-c", in.Command).Output()
			if err != nil {
				return nil, nil, err
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(out)}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "noop", Description: "return immediately"},
		func(context.Context, *mcp.CallToolRequest, NoopInput) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil, nil
		})
	return s
}

// Handler serves /mcp (one server shared by every session, as a minimal
// implementation would), /healthz and, when uploadDir is not empty, /upload
// and GET /download?path= of a file in uploadDir.
func Handler(uploadDir string) http.Handler {
	srv := NewMCPServer()
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	if uploadDir != "" {
		mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
			n, err := receive(r, uploadDir)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"bytes_written":`+itoa(n)+"}\n")
		})
		// The least a download can do: cat the file into the response, with
		// sendfile (CopyN's LimitedReader reaches the connection's ReadFrom;
		// a bare io.Copy would take os.File's WriteTo and copy through user
		// space).
		mux.HandleFunc("GET /download", func(w http.ResponseWriter, r *http.Request) {
			f, err := os.Open(filepath.Join(uploadDir, filepath.Base(r.URL.Query().Get("path"))))
			if err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			defer f.Close()
			if fi, err := f.Stat(); err == nil {
				w.Header().Set("Content-Type", "application/octet-stream") // no sniffing
				w.Header().Set("Content-Length", itoa(fi.Size()))          // not chunked
				io.CopyN(w, f, fi.Size())
			}
		})
	}
	return mux
}

// receive streams the multipart field "file" to uploadDir/base(path).
func receive(r *http.Request, dir string) (int64, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return 0, err
	}
	name := ""
	for {
		p, err := mr.NextPart()
		if err != nil {
			if err == io.EOF {
				return 0, errors.New("no file part")
			}
			return 0, err
		}
		switch p.FormName() {
		case "path":
			b, err := io.ReadAll(io.LimitReader(p, 4096))
			if err != nil {
				return 0, err
			}
			name = filepath.Base(string(b))
		case "file":
			return store(p, filepath.Join(dir, name))
		}
	}
}

func store(p *multipart.Part, dest string) (int64, error) {
	f, err := os.Create(dest)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, p)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
