package httpjson

import (
	"encoding/json"
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
