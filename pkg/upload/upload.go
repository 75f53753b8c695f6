// Package upload serves POST /upload: a multipart file streamed straight to a
// temp file next to its destination, counted and hashed on the way, then
// renamed into place. The file is never held in memory.
package upload

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/servagent/servagent/pkg/fsutil"
)

// Handler serves POST /upload.
type Handler struct {
	WorkDir string
	MaxSize int64
	Logger  *slog.Logger
}

// Result is the JSON answer of a successful upload.
type Result struct {
	Path         string `json:"path"`
	BytesWritten int64  `json:"bytes_written"`
	SHA256       string `json:"sha256"`
}

type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func bad(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST with multipart/form-data"})
		return
	}
	res, err := h.receive(w, r)
	if err != nil {
		code := http.StatusInternalServerError
		var he *httpError
		if errors.As(err, &he) {
			code = he.code
		}
		if h.Logger != nil {
			h.Logger.Warn("upload failed", "status", code, "error", err.Error())
		}
		writeJSON(w, code, map[string]string{"error": err.Error()})
		return
	}
	if h.Logger != nil {
		h.Logger.Info("upload", "path", res.Path, "bytes", res.BytesWritten)
	}
	writeJSON(w, http.StatusOK, res)
}

// receive reads the form fields in order. `path` (and `create_dirs`) must be
// known before the file part can be streamed to its directory, so they have
// to come first; curl -F sends fields in the order given, and a client that
// sends the file first gets a clear error.
func (h *Handler) receive(w http.ResponseWriter, r *http.Request) (*Result, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, bad("expected a multipart/form-data body with fields path, create_dirs (optional) and file")
	}
	// Bound the whole body: the file limit plus room for the other fields.
	r.Body = http.MaxBytesReader(w, r.Body, h.MaxSize+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, bad("malformed multipart body: %v", err)
	}
	var dest string
	createDirs := true
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, h.readErr(err)
		}
		switch part.FormName() {
		case "path":
			v, err := smallField(part)
			if err != nil {
				return nil, err
			}
			dest = v
		case "create_dirs":
			v, err := smallField(part)
			if err != nil {
				return nil, err
			}
			b, perr := strconv.ParseBool(strings.TrimSpace(v))
			if perr != nil {
				return nil, bad("create_dirs must be true or false, got %q", v)
			}
			createDirs = b
		case "file":
			if dest == "" {
				return nil, bad("missing field path: send the path field before the file field")
			}
			return h.store(part, dest, createDirs)
		default:
			io.Copy(io.Discard, io.LimitReader(part, 1<<20))
		}
	}
	if dest == "" {
		return nil, bad("missing fields path and file")
	}
	return nil, bad("missing field file")
}

func (h *Handler) store(part io.Reader, dest string, createDirs bool) (*Result, error) {
	if !filepath.IsAbs(dest) {
		dest = filepath.Join(h.WorkDir, dest)
	}
	dest = filepath.Clean(dest)
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		return nil, bad("path %s is an existing directory: give the full file path", dest)
	}
	// Into a symlink's target; never over a device, FIFO or socket.
	target, _, err := fsutil.ResolveWriteTarget(dest)
	if err != nil {
		return nil, bad("%v", err)
	}
	dest = target
	dir := filepath.Dir(dest)
	if fi, err := os.Stat(dir); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return nil, bad("cannot use directory %s: %v", dir, err)
		}
		if !createDirs {
			return nil, bad("parent directory %s does not exist and create_dirs is false", dir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, bad("cannot create %s: %v", dir, err)
		}
	} else if !fi.IsDir() {
		return nil, bad("parent %s is not a directory", dir)
	}
	a, err := fsutil.CreateAtomic(dest, 0o644)
	if err != nil {
		return nil, bad("cannot write into %s: %v", dir, err)
	}
	sum := sha256.New()
	// Multipart parts arrive in small chunks: buffer them into large writes.
	bw := bufio.NewWriterSize(io.MultiWriter(a, sum), 1<<20)
	n, err := io.Copy(bw, io.LimitReader(part, h.MaxSize+1))
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && n > h.MaxSize {
		err = &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("file exceeds SERVAGENT_UPLOAD_MAX_SIZE (%d bytes)", h.MaxSize)}
	}
	if err != nil {
		a.Abort()
		return nil, h.readErr(err)
	}
	if err := a.Commit(); err != nil {
		return nil, fmt.Errorf("saving %s: %w", dest, err)
	}
	return &Result{Path: dest, BytesWritten: n, SHA256: hex.EncodeToString(sum.Sum(nil))}, nil
}

func (h *Handler) readErr(err error) error {
	var he *httpError
	if errors.As(err, &he) {
		return err
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("upload exceeds SERVAGENT_UPLOAD_MAX_SIZE (%d bytes)", h.MaxSize)}
	}
	return bad("reading the upload: %v", err)
}

func smallField(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 4097))
	if err != nil {
		return "", bad("reading form field: %v", err)
	}
	if len(b) > 4096 {
		return "", bad("form field too long")
	}
	return string(b), nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
