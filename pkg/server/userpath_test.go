package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/servagent/servagent/pkg/server/servertest"
)

// /upload and /download read a path by the rules of write_file (pkg/userpath):
// "~/" is the home, surrounding blanks go, a NUL byte is refused with the same
// sentence, and each names the same file write_file does.
func TestUploadAndDownloadResolvePathsLikeTheTools(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	spool := t.TempDir()
	inst := start(t, map[string]string{"SERVAGENT_STATE_DIR": spool})
	cs := servertest.Connect(t, inst.URL, inst.Key, "streamable", nil)
	dir := inst.Config.WorkDir
	for _, c := range []struct{ path, want string }{
		{"~/a.txt", filepath.Join(home, "a.txt")},
		{" b.txt\n", filepath.Join(dir, "b.txt")},
		{"\t~/sub/c.txt \r\n", filepath.Join(home, "sub/c.txt")},
	} {
		for _, fileFirst := range []bool{false, true} {
			parts := []part{pathField(c.path), fileField(strings.NewReader("via upload"))}
			if fileFirst {
				slices.Reverse(parts)
			}
			resp := uploadParts(t, inst, parts...)
			var r struct{ Path string }
			json.NewDecoder(resp.Body).Decode(&r)
			if got, _ := os.ReadFile(c.want); resp.StatusCode != 200 || r.Path != c.want || string(got) != "via upload" {
				t.Errorf("upload %q (file first %v): %d, path %q, want %q; %s holds %q", c.path, fileFirst, resp.StatusCode, r.Path, c.want, c.want, got)
			}
		}
		if res := call(t, cs, "write_file", map[string]any{"path": c.path, "content": "via write_file"}); res.IsError {
			t.Fatalf("write_file %q: %s", c.path, text(res))
		}
		if got, _ := os.ReadFile(c.want); string(got) != "via write_file" {
			t.Errorf("write_file %q did not write %s, the file /upload wrote: it holds %q", c.path, c.want, got)
		}
		if resp := download(t, inst, "GET", c.path, nil); resp.StatusCode != 200 || bodyOf(resp) != "via write_file" {
			t.Errorf("download %q: %d, want 200 with the file write_file wrote", c.path, resp.StatusCode)
		}
	}

	const nul = "x\x00y"
	res := call(t, cs, "write_file", map[string]any{"path": nul, "content": "z"})
	want := text(res)
	if !res.IsError || !strings.Contains(want, "NUL byte") {
		t.Fatalf("write_file with a NUL: error=%v %q", res.IsError, want)
	}
	for name, parts := range map[string][]part{
		"path first": {pathField(nul), fileField(strings.NewReader("z"))},
		"file first": {fileField(strings.NewReader("z")), pathField(nul)},
	} {
		resp := uploadParts(t, inst, parts...)
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		if resp.StatusCode != 400 || e.Error != want {
			t.Errorf("upload with a NUL, %s: %d %q, want 400 %q", name, resp.StatusCode, e.Error, want)
		}
	}
	resp := download(t, inst, "GET", nul, nil)
	var e struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != 400 || e.Error != want {
		t.Errorf("download with a NUL: %d %q, want 400 %q", resp.StatusCode, e.Error, want)
	}
	resp = uploadParts(t, inst, pathField(" \n"), fileField(strings.NewReader("z")))
	if body := bodyOf(resp); resp.StatusCode != 400 || !strings.Contains(body, "field path is empty") {
		t.Errorf("blank path: %d %s", resp.StatusCode, body)
	}

	for d, want := range map[string][]string{dir: {"b.txt"}, home: {"a.txt", "sub"}, spool: nil} {
		var names []string
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, want) {
			t.Errorf("%s holds %v, want %v (nothing under a literal ~, a blank-padded name or a NUL path)", d, names, want)
		}
	}
}
