package httpjson

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, http.StatusTeapot, map[string]string{"error": "x"})
	if rec.Code != http.StatusTeapot || rec.Header().Get("Content-Type") != "application/json" ||
		rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	var m map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m["error"] != "x" {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	rec = httptest.NewRecorder()
	rec.Header().Set("Cache-Control", "max-age=60")
	Write(rec, http.StatusOK, struct{}{})
	if rec.Header().Get("Cache-Control") != "max-age=60" {
		t.Errorf("a handler's Cache-Control was replaced: %v", rec.Header())
	}
}

func TestError(t *testing.T) {
	for _, c := range []struct {
		desc string
		want map[string]string
	}{
		{"no such endpoint", map[string]string{"error": "not_found", "error_description": "no such endpoint"}},
		{"", map[string]string{"error": "not_found"}},
	} {
		rec := httptest.NewRecorder()
		Error(rec, http.StatusNotFound, "not_found", c.desc)
		if rec.Code != http.StatusNotFound || rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("desc %q: %d %v", c.desc, rec.Code, rec.Header())
		}
		var got map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || !maps.Equal(got, c.want) {
			t.Errorf("desc %q: body %q (%v), want %v", c.desc, rec.Body, err, c.want)
		}
	}
}
