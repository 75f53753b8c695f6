// Package httpjson holds servagent's one way of answering an HTTP request
// with JSON, so every endpoint sends the same headers.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write sends v as JSON with the given status. The body is never sniffed as
// another type, and it is not cached unless the handler already set a
// Cache-Control header: answers carry tokens, errors and live state.
func Write(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing left to tell it
}

// Error sends the error body of RFC 6749 §5.2, which servagent uses for
// every refusal of its own: {"error": code, "error_description": desc}, the
// description left out when empty.
func Error(w http.ResponseWriter, status int, code, desc string) {
	body := map[string]string{"error": code}
	if desc != "" {
		body["error_description"] = desc
	}
	Write(w, status, body)
}
