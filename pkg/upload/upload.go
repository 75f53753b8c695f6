// Package upload moves files over plain HTTP: POST /upload streams a
// multipart file into place through fsutil's atomic replace, hashing it on
// the way, and GET /download serves a regular file with ranges. Neither
// holds a file in memory.
package upload

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/servagent/servagent/pkg/fsutil"
	"github.com/servagent/servagent/pkg/httpjson"
	"github.com/servagent/servagent/pkg/userpath"
)

// Handler serves POST /upload. Build it with NewHandler.
type Handler struct {
	Paths   userpath.Resolver // how the path field becomes absolute (the tools' rules)
	MaxSize int64
	// SpoolDir holds a file part that arrives before the path field (an
	// unnamed O_TMPFILE, gone on close or crash); empty: the system temp dir.
	SpoolDir string
	Logger   *slog.Logger // nil: discard
}

// NewHandler returns h with its defaults filled in.
func NewHandler(h Handler) *Handler {
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	return &h
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
		httpjson.Write(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST with multipart/form-data"})
		return
	}
	res, err := h.receive(w, r)
	if err != nil {
		code := http.StatusInternalServerError
		var he *httpError
		if errors.As(err, &he) {
			code = he.code
		}
		h.Logger.Warn("upload failed", "status", code, "err", err.Error())
		httpjson.Write(w, code, map[string]string{"error": err.Error()})
		return
	}
	h.Logger.Info("upload", "path", res.Path, "bytes", res.BytesWritten)
	httpjson.Write(w, http.StatusOK, res)
}

// form is what the fields said so far, in whatever order they came.
type form struct {
	dest          string
	createDirs    bool
	createDirsSet bool
	file          *fsutil.AtomicFile // the file part streamed to its destination
	spool         *os.File           // or spooled, the path being unknown then
	n             int64
	sum           []byte
}

func (f *form) discard() {
	if f.file != nil {
		f.file.Abort()
	}
	if f.spool != nil {
		f.spool.Close()
	}
}

// receive reads the fields in any order. When path comes before file, the
// file streams into an unnamed file in its destination directory; when it
// comes after, into a spool file, copied into place at the end. Nothing is
// committed before the whole body has been read.
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
	f := &form{createDirs: true}
	defer f.discard()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, h.readErr(err)
		}
		if err := h.field(f, part); err != nil {
			return nil, err
		}
	}
	switch {
	case f.dest == "" && f.file == nil && f.spool == nil:
		return nil, bad("missing fields path and file")
	case f.dest == "":
		return nil, bad("missing field path")
	case f.file == nil && f.spool == nil:
		return nil, bad("missing field file")
	}
	return h.commit(f)
}

func (h *Handler) field(f *form, part *multipart.Part) error {
	switch part.FormName() {
	case "path":
		v, err := smallField(part)
		if err != nil {
			return err
		}
		if f.dest != "" {
			return bad("field path given twice")
		}
		dest, err := h.resolve(v)
		if err != nil {
			return err
		}
		f.dest = dest
	case "create_dirs":
		v, err := smallField(part)
		if err != nil {
			return err
		}
		b, perr := strconv.ParseBool(strings.TrimSpace(v))
		if perr != nil {
			return bad("create_dirs must be true or false, got %q", v)
		}
		f.createDirs, f.createDirsSet = b, true
	case "file":
		if f.file != nil || f.spool != nil {
			return bad("field file given twice")
		}
		var dst io.Writer
		if f.dest != "" {
			a, err := fsutil.Create(f.dest, fsutil.Options{Perm: 0o644, CreateDirs: f.createDirs})
			if err != nil {
				return h.placeErr(f, err)
			}
			f.file, dst = a, a
		} else {
			s, err := fsutil.Spool(h.SpoolDir)
			if err != nil {
				return fmt.Errorf("cannot spool the upload: %w", err)
			}
			f.spool, dst = s, s
		}
		n, sum, err := copyHashed(dst, part, h.MaxSize)
		if err == nil && n > h.MaxSize {
			err = &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("file exceeds SERVAGENT_UPLOAD_MAX_SIZE (%d bytes)", h.MaxSize)}
		}
		if err != nil {
			return h.readErr(err)
		}
		f.n, f.sum = n, sum
	default:
		io.Copy(io.Discard, io.LimitReader(part, 1<<20))
	}
	return nil
}

// commit puts the received file into place.
func (h *Handler) commit(f *form) (*Result, error) {
	if f.spool != nil {
		spool := f.spool
		f.spool = nil
		res, err := fsutil.Place(f.dest, fsutil.Options{Perm: 0o644, CreateDirs: f.createDirs}, spool)
		if err != nil {
			return nil, h.placeErr(f, err)
		}
		return &Result{Path: res.Path, BytesWritten: f.n, SHA256: hex.EncodeToString(f.sum)}, nil
	}
	a := f.file
	if !f.createDirs && len(a.CreatedDirs()) > 0 { // create_dirs=false came after the file
		return nil, bad("parent directory of %s does not exist and create_dirs is false", f.dest)
	}
	if err := a.Commit(); err != nil {
		f.file = nil
		if isNoSpace(err) {
			return nil, noSpace(err)
		}
		return nil, err
	}
	f.file = nil
	return &Result{Path: a.Result.Path, BytesWritten: f.n, SHA256: hex.EncodeToString(f.sum)}, nil
}

// resolve turns the path field into the destination by the rules the tools
// use (pkg/userpath); a bad path is the client's error.
func (h *Handler) resolve(v string) (string, error) {
	p, err := h.Paths.Resolve(v)
	switch {
	case errors.Is(err, userpath.ErrEmpty):
		return "", bad("field %v", err) // field path is empty: give an absolute path or …
	case err != nil:
		return "", bad("%v", err)
	}
	return p, nil
}

// placeErr explains why the destination cannot take the file.
func (h *Handler) placeErr(f *form, err error) error {
	if errors.Is(err, os.ErrNotExist) && !f.createDirs {
		return bad("parent directory of %s does not exist and create_dirs is false", f.dest)
	}
	if isNoSpace(err) {
		return noSpace(err)
	}
	if errors.Is(err, fsutil.ErrRefused) {
		if strings.Contains(err.Error(), "is a directory") {
			return bad("path %s is an existing directory: give the full file path", f.dest)
		}
		return bad("%v", err)
	}
	return bad("cannot write %s: %v", f.dest, err)
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func noSpace(err error) error {
	return &httpError{http.StatusInsufficientStorage, fmt.Sprintf("no space left for the upload (%v); nothing was written", err)}
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
	if isNoSpace(err) {
		return noSpace(err)
	}
	var we *writeError
	if errors.As(err, &we) {
		return fmt.Errorf("writing the upload: %w", we.err)
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
