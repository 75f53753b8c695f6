package tools

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryChunkedRoundTrip uploads a random 5 MB file in 1 MB chunks with
// append, downloads it in chunks, and compares sha256 end to end.
func TestBinaryChunkedRoundTrip(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.MaxOutputSize = 4 << 20 // chunk size capped by maxBinaryChunk, not by this
	data := make([]byte, 5<<20+12345)
	rand.Read(data)
	want := sha256.Sum256(data)
	p := "up/blob.bin"
	const chunk = 1 << 20
	var last WriteFileBinaryOutput
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		args := map[string]any{"path": p, "content_base64": base64.StdEncoding.EncodeToString(data[off:end])}
		if off > 0 {
			args["append"] = true
			args["offset"] = off // optional consistency check
		}
		last = structured[WriteFileBinaryOutput](t, callTool(t, env, "write_file_binary", args))
		if last.Size != int64(end) || last.Offset != int64(off) || last.Atomic != (off == 0) {
			t.Fatalf("chunk at %d: %+v", off, last)
		}
		cs := sha256.Sum256(data[off:end])
		if last.ChunkSHA256 != hex.EncodeToString(cs[:]) {
			t.Fatalf("chunk sha mismatch at %d", off)
		}
	}
	if last.FileSHA256 != hex.EncodeToString(want[:]) {
		t.Fatalf("uploaded file sha256 %s, want %x", last.FileSHA256, want)
	}
	// Read back.
	var got bytes.Buffer
	var off int64
	var rd ReadFileBinaryOutput
	for calls := 0; ; calls++ {
		if calls > 10 {
			t.Fatal("too many read calls")
		}
		rd = structured[ReadFileBinaryOutput](t, callTool(t, env, "read_file_binary", map[string]any{"path": p, "offset": off}))
		b, err := base64.StdEncoding.DecodeString(rd.ContentBase64)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) != rd.Length || rd.Size != int64(len(data)) || rd.Offset != off {
			t.Fatalf("bad chunk %+v", rd)
		}
		cs := sha256.Sum256(b)
		if rd.ChunkSHA256 != hex.EncodeToString(cs[:]) {
			t.Fatal("chunk sha mismatch")
		}
		got.Write(b)
		off = rd.NextOffset
		if rd.EOF {
			break
		}
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatal("round trip differs")
	}
	if rd.FileSHA256 != hex.EncodeToString(want[:]) {
		t.Fatalf("file sha256 on last chunk %q", rd.FileSHA256)
	}
}

func TestWriteFileBinary(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	p := filepath.Join(env.WorkDir, "f.bin")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	structured[WriteFileBinaryOutput](t, callTool(t, env, "write_file_binary", map[string]any{"path": p, "content_base64": b64("0123456789")}))
	os.Chmod(p, 0o751)

	t.Run("invalid base64 leaves file untouched", func(t *testing.T) {
		toolError(t, callTool(t, env, "write_file_binary", map[string]any{"path": p, "content_base64": "not base64!!"}), "not valid base64", "nothing was written")
		if b, _ := os.ReadFile(p); string(b) != "0123456789" {
			t.Fatalf("content %q", b)
		}
	})
	t.Run("offset past size", func(t *testing.T) {
		toolError(t, callTool(t, env, "write_file_binary", map[string]any{"path": p, "content_base64": b64("x"), "offset": 11}), "past the end", "hole", "offset 10")
		toolError(t, callTool(t, env, "write_file_binary", map[string]any{"path": p, "content_base64": b64("x"), "offset": 5, "append": true}), "append=true", "resume at offset 10")
		toolError(t, callTool(t, env, "write_file_binary", map[string]any{"path": p, "content_base64": b64("x"), "offset": -1}), "offset")
	})
	t.Run("overwrite in the middle, then truncate", func(t *testing.T) {
		out := structured[WriteFileBinaryOutput](t, callTool(t, env, "write_file_binary", map[string]any{"path": p, "content_base64": b64("ab"), "offset": 3}))
		if out.Size != 10 || out.Atomic {
			t.Fatalf("unexpected %+v", out)
		}
		if b, _ := os.ReadFile(p); string(b) != "012ab56789" {
			t.Fatalf("content %q", b)
		}
		structured[WriteFileBinaryOutput](t, callTool(t, env, "write_file_binary", map[string]any{"path": p, "content_base64": b64("Z"), "offset": 4, "truncate": true}))
		if b, _ := os.ReadFile(p); string(b) != "012aZ" {
			t.Fatalf("content %q", b)
		}
	})
	t.Run("atomic replace keeps mode", func(t *testing.T) {
		out := structured[WriteFileBinaryOutput](t, callTool(t, env, "write_file_binary", map[string]any{"path": p, "content_base64": "aGk"})) // unpadded "hi"
		if !out.Atomic || out.Size != 2 {
			t.Fatalf("unexpected %+v", out)
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != 0o751 {
			t.Fatalf("mode %v", fi.Mode())
		}
	})
	t.Run("upload limit", func(t *testing.T) {
		small := *env
		small.UploadMaxSize = 4
		toolError(t, callTool(t, &small, "write_file_binary", map[string]any{"path": p, "content_base64": b64("12345")}), "SERVAGENT_UPLOAD_MAX_SIZE")
	})
	t.Run("directory", func(t *testing.T) {
		toolError(t, callTool(t, env, "write_file_binary", map[string]any{"path": env.WorkDir, "content_base64": b64("x")}), "is a directory")
	})
}

func TestReadFileBinary(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	p := filepath.Join(env.WorkDir, "f.bin")
	data := []byte("\x00\x01\x02binary\xff")
	os.WriteFile(p, data, 0o644)
	sum := sha256.Sum256(data)
	t.Run("whole", func(t *testing.T) {
		t.Parallel()
		res := callTool(t, env, "read_file_binary", map[string]any{"path": p})
		out := structured[ReadFileBinaryOutput](t, res)
		if out.ContentBase64 != base64.StdEncoding.EncodeToString(data) || !out.EOF || out.FileSHA256 != hex.EncodeToString(sum[:]) || out.Size != int64(len(data)) {
			t.Fatalf("unexpected %+v", out)
		}
		if !strings.Contains(resultText(res), out.ContentBase64) {
			t.Fatal("text content lacks the base64")
		}
	})
	t.Run("range", func(t *testing.T) {
		t.Parallel()
		out := structured[ReadFileBinaryOutput](t, callTool(t, env, "read_file_binary", map[string]any{"path": p, "offset": 3, "length": 6}))
		if out.ContentBase64 != base64.StdEncoding.EncodeToString(data[3:9]) || out.EOF || out.NextOffset != 9 {
			t.Fatalf("unexpected %+v", out)
		}
	})
	t.Run("offset at end", func(t *testing.T) {
		t.Parallel()
		out := structured[ReadFileBinaryOutput](t, callTool(t, env, "read_file_binary", map[string]any{"path": p, "offset": len(data)}))
		if out.Length != 0 || !out.EOF {
			t.Fatalf("unexpected %+v", out)
		}
	})
	t.Run("chunk derived from MaxOutputSize", func(t *testing.T) {
		t.Parallel()
		small := *env
		small.MaxOutputSize = 8000
		if c := small.binaryChunk(); c != 6000 {
			t.Fatalf("chunk %d", c)
		}
		toolError(t, callTool(t, &small, "read_file_binary", map[string]any{"path": p, "length": 7000}), "per-call maximum")
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		toolError(t, callTool(t, env, "read_file_binary", map[string]any{"path": p, "offset": 100}), "past the end")
		toolError(t, callTool(t, env, "read_file_binary", map[string]any{"path": p, "offset": -1}), "offset")
		toolError(t, callTool(t, env, "read_file_binary", map[string]any{"path": p, "length": 2 << 20}), "per-call maximum")
		toolError(t, callTool(t, env, "read_file_binary", map[string]any{"path": env.WorkDir}), "list_directory")
		toolError(t, callTool(t, env, "read_file_binary", map[string]any{"path": "missing"}), "does not exist")
	})
}

// TestReadFileBinaryProcfs: a procfs file reports size 0 but has content;
// read_file_binary returns it (from one snapshot) instead of 0 bytes + eof.
func TestReadFileBinaryProcfs(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	out := structured[ReadFileBinaryOutput](t, callTool(t, env, "read_file_binary", map[string]any{"path": "/proc/self/status"}))
	raw, err := base64.StdEncoding.DecodeString(out.ContentBase64)
	if err != nil {
		t.Fatal(err)
	}
	if out.Length == 0 || !bytes.Contains(raw, []byte("Tgid:")) || !out.EOF || out.Size != out.Length || out.FileSHA256 != out.ChunkSHA256 {
		t.Fatalf("got length %d size %d eof %v: %q", out.Length, out.Size, out.EOF, raw)
	}
	// Chunked reads of a snapshot agree with its size and end at eof.
	small := structured[ReadFileBinaryOutput](t, callTool(t, env, "read_file_binary", map[string]any{"path": "/proc/self/maps", "length": 4096}))
	if small.Length == 0 || small.Length > 4096 || small.Size == 0 {
		t.Fatalf("chunk of /proc/self/maps: %+v", small)
	}
}
