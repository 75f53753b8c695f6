package ratelimit

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies says which peers are reverse proxies whose X-Forwarded-For header
// names the real client. Limits are keyed on the client address, so behind a
// proxy one bad client does not lock out every other one; a header from any
// other peer is ignored, so nobody can pick the key their failures count on.
type Proxies struct {
	trusted []netip.Prefix
}

// NewProxies trusts the peers in prefixes (none: the peer is the client).
func NewProxies(prefixes []netip.Prefix) *Proxies {
	return &Proxies{trusted: append([]netip.Prefix(nil), prefixes...)}
}

// Trusts reports whether addr (an IP, no port) is a trusted proxy.
func (p *Proxies) Trusts(addr string) bool {
	if p == nil || len(p.trusted) == 0 {
		return false
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, pre := range p.trusted {
		if pre.Contains(ip) {
			return true
		}
	}
	return false
}

// Client returns the client address of r: the peer, or, when the peer is a
// trusted proxy, the right-most X-Forwarded-For entry that is not itself a
// trusted proxy (entries to its left were written by the client and prove
// nothing). A malformed entry ends the walk at the last trusted hop.
func (p *Proxies) Client(r *http.Request) string {
	peer := PeerAddr(r)
	if !p.Trusts(peer) {
		return peer
	}
	hops := forwardedHops(r.Header.Values("X-Forwarded-For"))
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(hops[i])
		if err != nil {
			break
		}
		client = ip.Unmap().String()
		if !p.Trusts(client) {
			break
		}
	}
	return client
}

func forwardedHops(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	return hops
}

// PeerAddr is the IP of the connection's peer, without the port.
func PeerAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type clientKey struct{}

// WithClient records the resolved client address of a request, once, for
// every limiter behind it.
func WithClient(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientKey{}, addr)
}

// ClientAddr is the key a limiter counts r's failures on: the address
// recorded by WithClient, else the peer address.
func ClientAddr(r *http.Request) string {
	if a, ok := r.Context().Value(clientKey{}).(string); ok && a != "" {
		return a
	}
	return PeerAddr(r)
}
