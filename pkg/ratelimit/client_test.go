package ratelimit

import (
	"context"
	"net/http"
	"net/netip"
	"testing"
)

func TestProxiesClient(t *testing.T) {
	p := NewProxies([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")})
	for _, c := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"203.0.113.1:5000", []string{"198.51.100.9"}, "203.0.113.1"},            // untrusted peer: header ignored
		{"127.0.0.1:5000", nil, "127.0.0.1"},                                     // trusted peer, no header: the peer
		{"127.0.0.1:5000", []string{"198.51.100.9"}, "198.51.100.9"},             // the forwarded client
		{"127.0.0.1:5000", []string{"1.2.3.4, 198.51.100.9"}, "198.51.100.9"},    // a client-written left entry proves nothing
		{"127.0.0.1:5000", []string{"198.51.100.9, 10.1.2.3"}, "198.51.100.9"},   // trusted hops are skipped
		{"127.0.0.1:5000", []string{"198.51.100.9", "10.1.2.3"}, "198.51.100.9"}, // several header lines
		{"127.0.0.1:5000", []string{"garbage, 10.1.2.3"}, "10.1.2.3"},            // a malformed entry ends the walk
		{"[::ffff:127.0.0.1]:5000", []string{"::ffff:198.51.100.9"}, "198.51.100.9"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := p.Client(r); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %q, want %q", c.peer, c.xff, got, c.want)
		}
	}
	var none *Proxies
	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "198.51.100.9")
	if got := NewProxies(nil).Client(r); got != "127.0.0.1" || none.Trusts("127.0.0.1") {
		t.Errorf("no trusted proxies: %q", got)
	}
	if got := ClientAddr(r.WithContext(WithClient(context.Background(), "198.51.100.7"))); got != "198.51.100.7" {
		t.Errorf("ClientAddr from the context: %q", got)
	}
	if got := ClientAddr(r); got != "127.0.0.1" {
		t.Errorf("ClientAddr without a recorded client: %q", got)
	}
}
