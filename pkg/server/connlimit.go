package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/servagent/servagent/pkg/ratelimit"
)

// connLimiter caps the connections each address holds before one of its
// requests authenticates, so one host cannot take every file descriptor
// with connections that never prove anything. A connection stops counting
// when a request on it authenticates, and when it closes.
type connLimiter struct {
	net.Listener
	max     int
	proxies *ratelimit.Proxies
	log     *slog.Logger

	mu      sync.Mutex
	perAddr map[string]int
}

func newConnLimiter(ln net.Listener, max int, proxies *ratelimit.Proxies, log *slog.Logger) *connLimiter {
	return &connLimiter{Listener: ln, max: max, proxies: proxies, log: log, perAddr: map[string]int{}}
}

// Accept returns the next connection within the cap; connections over it
// are closed at once.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr, _, err := net.SplitHostPort(c.RemoteAddr().String())
		if err != nil || l.proxies.Trusts(addr) {
			return c, nil
		}
		if l.take(addr) {
			tc := &trackedConn{Conn: c, l: l, addr: addr}
			tc.counted.Store(true)
			return tc, nil
		}
		l.log.Debug("connection refused: too many unauthenticated connections from this address", "remote", addr, "max", l.max)
		c.Close()
	}
}

func (l *connLimiter) take(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perAddr[addr] >= l.max {
		return false
	}
	l.perAddr[addr]++
	return true
}

func (l *connLimiter) release(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perAddr[addr] <= 1 {
		delete(l.perAddr, addr)
		return
	}
	l.perAddr[addr]--
}

// trackedConn is a connection counted against its address.
type trackedConn struct {
	net.Conn
	l       *connLimiter
	addr    string
	counted atomic.Bool
}

// authenticated stops counting the connection.
func (c *trackedConn) authenticated() {
	if c.counted.Swap(false) {
		c.l.release(c.addr)
	}
}

func (c *trackedConn) Close() error {
	c.authenticated()
	return c.Conn.Close()
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
