package server

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/servagent/servagent/pkg/ratelimit"
)

// connLimiter caps the connections each address holds before one of its
// requests authenticates, so one host cannot take every file descriptor
// with connections that never prove anything. A connection stops counting
// when a request on it authenticates, and when it closes. An address at
// the cap gets its new connection and loses its oldest unauthenticated
// one: idle connections cannot lock out a client from the same address
// (NAT, a shared host) that comes to authenticate. IPv6 addresses count
// by their /64.
type connLimiter struct {
	net.Listener
	max     int
	proxies *ratelimit.Proxies
	log     *slog.Logger

	mu      sync.Mutex
	perAddr map[string][]*trackedConn // unauthenticated, oldest first
}

func newConnLimiter(ln net.Listener, max int, proxies *ratelimit.Proxies, log *slog.Logger) *connLimiter {
	return &connLimiter{Listener: ln, max: max, proxies: proxies, log: log, perAddr: map[string][]*trackedConn{}}
}

// Accept returns the next connection; an address over the cap has its
// oldest unauthenticated connection closed.
func (l *connLimiter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	addr, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil || l.proxies.Trusts(addr) {
		return c, nil
	}
	tc := &trackedConn{Conn: c, l: l, key: ratelimit.AddrKey(addr)}
	tc.counted.Store(true)
	if old := l.take(tc); old != nil {
		l.log.Debug("closed the oldest unauthenticated connection of an address at its cap", "remote", addr, "max", l.max)
		old.Conn.Close()
	}
	return tc, nil
}

// take counts c and returns the connection it displaces, if any (no longer
// counted; the caller closes it outside the lock).
func (l *connLimiter) take(c *trackedConn) (evicted *trackedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	list := l.perAddr[c.key]
	for evicted == nil && len(list) >= l.max {
		// One authenticating right now (Swap already false) is skipped:
		// its release finds it gone.
		if list[0].counted.Swap(false) {
			evicted = list[0]
		}
		list = list[1:]
	}
	l.perAddr[c.key] = append(list, c)
	return evicted
}

func (l *connLimiter) release(c *trackedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	list := l.perAddr[c.key]
	for i, x := range list {
		if x == c {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(l.perAddr, c.key)
		return
	}
	l.perAddr[c.key] = list
}

// trackedConn is a connection counted against its address.
type trackedConn struct {
	net.Conn
	l       *connLimiter
	key     string // ratelimit.AddrKey of the peer
	counted atomic.Bool
}

// authenticated stops counting the connection.
func (c *trackedConn) authenticated() {
	if c.counted.Swap(false) {
		c.l.release(c)
	}
}

func (c *trackedConn) Close() error {
	c.authenticated()
	return c.Conn.Close()
}

// ReadFrom hands a file to the TCP connection's own ReadFrom, so
// /download still goes out with sendfile(2) through the wrapper.
func (c *trackedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

type connKey struct{}

// connContext makes the connection findable from its requests.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	if tc, ok := c.(*trackedConn); ok {
		return context.WithValue(ctx, connKey{}, tc)
	}
	return ctx
}

// connAuthenticated marks the connection of ctx's request as authenticated.
func connAuthenticated(ctx context.Context) {
	if tc, ok := ctx.Value(connKey{}).(*trackedConn); ok {
		tc.authenticated()
	}
}
