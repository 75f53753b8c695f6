package upload

import (
	"bufio"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/servagent/servagent/pkg/userpath"
)

// The crash child: serves /upload into UPLOAD_TEST_CRASH_DIR until killed.
func init() {
	dir := os.Getenv("UPLOAD_TEST_CRASH_DIR")
	if dir == "" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	http.Serve(ln, NewHandler(Handler{Paths: userpath.Resolver{WorkDir: dir}, MaxSize: 1 << 30, SpoolDir: dir}))
	os.Exit(2)
}

// A servagent killed with SIGKILL in the middle of an upload leaves no temp
// file next to the destination (or in the spool directory), in either
// field order.
func TestKilledUploadLeavesNothing(t *testing.T) {
	for _, fileFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("file first %v", fileFirst), func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "dest"), []byte("old"), 0o644)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "UPLOAD_TEST_CRASH_DIR="+dir)
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			addr, _ := bufio.NewReader(out).ReadString('\n')
			addr = strings.TrimSpace(addr)

			pr, pw := io.Pipe()
			mw := multipart.NewWriter(pw)
			sent := make(chan struct{})
			go func() {
				if !fileFirst {
					mw.WriteField("path", "dest")
				}
				w, _ := mw.CreateFormFile("file", "f")
				chunk := make([]byte, 1<<20)
				for i := 0; ; i++ {
					if _, err := w.Write(chunk); err != nil {
						return
					}
					if i == 8 {
						close(sent)
					}
				}
			}()
			req, _ := http.NewRequest("POST", "http://"+addr+"/", pr)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			go http.DefaultClient.Do(req)
			select {
			case <-sent:
			case <-time.After(20 * time.Second):
				t.Fatal("the upload did not start")
			}
			time.Sleep(200 * time.Millisecond) // let the server write what it received
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			pw.CloseWithError(io.ErrClosedPipe)
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 || entries[0].Name() != "dest" {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("after the crash the directory holds %v, want only dest", names)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "dest")); string(b) != "old" {
				t.Errorf("dest = %q", b)
			}
		})
	}
}
