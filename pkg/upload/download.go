package upload

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"syscall"

	"github.com/servagent/servagent/pkg/fsutil"
	"github.com/servagent/servagent/pkg/httpjson"
	"github.com/servagent/servagent/pkg/textutil"
	"github.com/servagent/servagent/pkg/userpath"
)

// Download serves GET and HEAD /download?path=…: one regular file with
// Content-Length, Last-Modified, an ETag, Content-Disposition and byte
// ranges (http.ServeContent), opened under fsutil's symlink rule. Build it
// with NewDownload.
type Download struct {
	Paths  userpath.Resolver // how ?path= becomes absolute (the tools' rules)
	Logger *slog.Logger      // nil: discard
}

// NewDownload returns d with its defaults filled in.
func NewDownload(d Download) *Download {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &d
}

func (d *Download) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpjson.Write(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET /download?path=/absolute/path (or HEAD)"})
		return
	}
	raw := r.URL.Query().Get("path")
	p, err := d.Paths.Resolve(raw)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, userpath.ErrEmpty) {
			msg = "give the file as ?path=/absolute/path"
		}
		d.fail(w, r, raw, http.StatusBadRequest, msg)
		return
	}
	f, fi, err := fsutil.Open(p)
	if err != nil {
		code, msg := openStatus(err)
		d.fail(w, r, p, code, msg)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fi.Name()}))
	h.Set("ETag", fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size()))
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	http.ServeContent(sw, r, fi.Name(), fi.ModTime(), f)
	d.Logger.Info("download", "path", p, "status", sw.code, "bytes", sw.n, "size", fi.Size(), "range", textutil.ClipBytesSized(r.Header.Get("Range"), 64), "remote", r.RemoteAddr)
}

// openStatus maps why a file cannot be served to a status and a sentence.
func openStatus(err error) (int, string) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, fsutil.ErrRefused) && strings.Contains(err.Error(), "protected_symlinks"):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, fsutil.ErrRefused), errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.ENOTDIR):
		return http.StatusBadRequest, err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}

func (d *Download) fail(w http.ResponseWriter, r *http.Request, p string, code int, msg string) {
	d.Logger.Warn("download refused", "path", textutil.ClipBytesSized(p, 512), "status", code, "err", textutil.ClipBytesSized(msg, 512), "remote", r.RemoteAddr)
	httpjson.Write(w, code, map[string]string{"error": msg})
}

// statusWriter records the status and byte count for the log line. It
// forwards ReadFrom so the file still goes out with sendfile.
type statusWriter struct {
	http.ResponseWriter
	code int
	n    int64
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	n, err := s.ResponseWriter.Write(b)
	s.n += int64(n)
	return n, err
}

func (s *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := s.ResponseWriter.(io.ReaderFrom)
	if !ok {
		n, err := io.Copy(struct{ io.Writer }{s.ResponseWriter}, r)
		s.n += n
		return n, err
	}
	n, err := rf.ReadFrom(r)
	s.n += n
	return n, err
}
