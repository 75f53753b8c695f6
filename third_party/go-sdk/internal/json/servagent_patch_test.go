package json

import (
	"encoding/json"
	"testing"
)

// The servagent patch decodes from the slice instead of a Decoder over it.
// What callers could observe stays as it was: the first value decoded and
// the rest not looked at, nothing left pointing into the input, the same
// field matching and depth limit.
func TestUnmarshalFromTheSlice(t *testing.T) {
	in := []byte(`{"name":"tools/call","params":{"x":1}} {"not":"read"}`)
	var v struct {
		Name   string          `json:"name"`
		Params json.RawMessage `json:"params"`
	}
	if err := Unmarshal(in, &v); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 'X'
	}
	if v.Name != "tools/call" || string(v.Params) != `{"x":1}` {
		t.Fatalf("decoded values changed with the input: %q %q", v.Name, v.Params)
	}
	var c struct {
		Name string `json:"name"`
	}
	if err := Unmarshal([]byte(`{"NAME":"x"}`), &c); err != nil || c.Name != "" {
		t.Errorf("field matched case-insensitively: %q, %v", c.Name, err)
	}
	deep := make([]byte, 0, 2*defaultMaxDepth+2)
	for range defaultMaxDepth + 1 {
		deep = append(deep, '[')
	}
	var a any
	if err := Unmarshal(deep, &a); err == nil {
		t.Error("a value nested deeper than the limit was accepted")
	}
	if err := Unmarshal([]byte(`{"name":`), &c); err == nil {
		t.Error("truncated input was accepted")
	}
}

func BenchmarkUnmarshalRequest(b *testing.B) {
	in := []byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"execute_command","arguments":{"command":"echo hi"}}}`)
	b.ReportAllocs()
	for b.Loop() {
		var v map[string]any
		if err := Unmarshal(in, &v); err != nil {
			b.Fatal(err)
		}
	}
}
