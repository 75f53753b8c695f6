package setup

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// Resolver is the part of net.Resolver the domain check uses.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// DomainWarning returns "" when domain resolves to one of local (this
// host's addresses), else a sentence saying what it resolves to. Behind NAT
// or a port-forwarding firewall the warning is expected; the operator
// decides.
func DomainWarning(ctx context.Context, r Resolver, domain string, local []net.IP) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, domain)
	if err != nil || len(addrs) == 0 {
		return fmt.Sprintf("%s does not resolve (yet): Let's Encrypt must reach it on port 80 to issue the certificate.", domain)
	}
	for _, a := range addrs {
		ip := net.ParseIP(a)
		if ip != nil && slices.ContainsFunc(local, ip.Equal) {
			return ""
		}
	}
	return fmt.Sprintf("%s resolves to %s, which is not an address of this host (fine behind NAT that forwards ports 80 and 443 here).",
		domain, strings.Join(addrs, ", "))
}

// LocalAddrs lists the addresses of this host's interfaces.
func LocalAddrs() []net.IP {
	var out []net.IP
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out = append(out, n.IP)
		}
	}
	return out
}
