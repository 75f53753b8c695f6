package tools

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// NetworkInfoInput has no arguments.
type NetworkInfoInput struct{}

// InterfaceInfo is one network interface.
type InterfaceInfo struct {
	Name      string   `json:"name"`
	MAC       string   `json:"mac,omitempty"`
	MTU       int      `json:"mtu"`
	Up        bool     `json:"up"`
	Loopback  bool     `json:"loopback,omitempty"`
	Addresses []string `json:"addresses" jsonschema:"CIDR notation"`
}

// RouteInfo is a default route.
type RouteInfo struct {
	Family    string `json:"family" jsonschema:"ipv4 or ipv6"`
	Gateway   string `json:"gateway"`
	Interface string `json:"interface"`
	Metric    int    `json:"metric"`
}

// ListenerInfo is one listening socket.
type ListenerInfo struct {
	Proto   string `json:"proto" jsonschema:"tcp, tcp6, udp or udp6"`
	Address string `json:"address"`
	Port    int    `json:"port"`
	PID     int    `json:"pid,omitempty" jsonschema:"owning process, when visible to servagent's user"`
	Process string `json:"process,omitempty"`
}

// NetworkInfoOutput is the result of network_info.
type NetworkInfoOutput struct {
	Interfaces    []InterfaceInfo `json:"interfaces"`
	DefaultRoutes []RouteInfo     `json:"default_routes"`
	DNSServers    []string        `json:"dns_servers"`
	DNSSearch     []string        `json:"dns_search,omitempty"`
	Listeners     []ListenerInfo  `json:"listeners"`
	Warnings      []string        `json:"warnings,omitempty"`
}

var networkInfoTool = define(Tool{
	Name:  "network_info",
	Title: "Network information",
	Description: "Describe the server's network: interfaces with addresses, MAC, MTU and state; default routes (IPv4 and IPv6); DNS servers; and listening TCP/UDP sockets with the owning pid and process name where visible. " +
		"Read natively from /proc and /etc, so it works without ip, ss or netstat. Call it once per session and reuse the answer; call again to check that a service now listens.",
	Hints: Hints{ReadOnly: true, Idempotent: true},
}, (*Env).networkInfo)

func (e *Env) networkInfo(ctx context.Context, _ *mcp.CallToolRequest, _ NetworkInfoInput) (*mcp.CallToolResult, NetworkInfoOutput, error) {
	var o NetworkInfoOutput
	warn := func(format string, args ...any) { o.Warnings = append(o.Warnings, fmt.Sprintf(format, args...)) }

	ifs, err := net.Interfaces()
	if err != nil {
		warn("interfaces: %v", err)
	}
	for _, ifc := range ifs {
		info := InterfaceInfo{
			Name:      ifc.Name,
			MAC:       ifc.HardwareAddr.String(),
			MTU:       ifc.MTU,
			Up:        ifc.Flags&net.FlagUp != 0,
			Loopback:  ifc.Flags&net.FlagLoopback != 0,
			Addresses: []string{},
		}
		if addrs, err := ifc.Addrs(); err == nil {
			for _, a := range addrs {
				info.Addresses = append(info.Addresses, a.String())
			}
		}
		o.Interfaces = append(o.Interfaces, info)
	}

	o.DefaultRoutes = []RouteInfo{}
	if r, err := defaultRoutes4(); err == nil {
		o.DefaultRoutes = append(o.DefaultRoutes, r...)
	} else {
		warn("IPv4 routes: %v", err)
	}
	if r, err := defaultRoutes6(); err == nil {
		o.DefaultRoutes = append(o.DefaultRoutes, r...)
	} // no /proc/net/ipv6_route: IPv6 is disabled, nothing to report

	o.DNSServers, o.DNSSearch = resolvConf("/etc/resolv.conf")

	owners := socketOwners()
	o.Listeners = []ListenerInfo{}
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		ls, err := listeners(proto, owners)
		if err != nil {
			if !os.IsNotExist(err) {
				warn("%s sockets: %v", proto, err)
			}
			continue
		}
		o.Listeners = append(o.Listeners, ls...)
	}
	slices.SortStableFunc(o.Listeners, func(a, b ListenerInfo) int {
		if a.Port != b.Port {
			return a.Port - b.Port
		}
		return strings.Compare(a.Proto, b.Proto)
	})
	if os.Geteuid() != 0 {
		warn("servagent is not root: owners of other users' sockets are not shown")
	}
	return networkText(o), o, nil
}

// defaultRoutes4 reads /proc/net/route, where addresses are hex of the
// in-memory (network order) bytes printed as a host-order integer.
func defaultRoutes4() ([]RouteInfo, error) {
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return nil, err
	}
	var out []RouteInfo
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 8 {
			continue
		}
		if f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		gw, err := hexIPv4(f[2])
		if err != nil {
			continue
		}
		metric, _ := strconv.Atoi(f[6])
		out = append(out, RouteInfo{Family: "ipv4", Gateway: gw.String(), Interface: f[0], Metric: metric})
	}
	return out, nil
}

// defaultRoutes6 reads /proc/net/ipv6_route (plain big-endian hex).
func defaultRoutes6() ([]RouteInfo, error) {
	b, err := os.ReadFile("/proc/net/ipv6_route")
	if err != nil {
		return nil, err
	}
	var out []RouteInfo
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 10 || f[0] != strings.Repeat("0", 32) || f[1] != "00" {
			continue
		}
		nh, err := hex.DecodeString(f[4])
		if err != nil || len(nh) != 16 {
			continue
		}
		ip := netip.AddrFrom16([16]byte(nh))
		if f[9] == "lo" || ip.IsUnspecified() {
			continue // the unreachable catch-all route, or an on-link default
		}
		metric, _ := strconv.ParseInt(f[5], 16, 64)
		out = append(out, RouteInfo{Family: "ipv6", Gateway: ip.String(), Interface: f[9], Metric: int(metric)})
	}
	return out, nil
}

func hexIPv4(s string) (netip.Addr, error) {
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return netip.Addr{}, err
	}
	var a [4]byte
	binary.NativeEndian.PutUint32(a[:], uint32(v))
	return netip.AddrFrom4(a), nil
}

// hexIPv6 decodes /proc/net/tcp6's address: four 32-bit words, each
// printed as a host-order integer.
func hexIPv6(s string) (netip.Addr, error) {
	if len(s) != 32 {
		return netip.Addr{}, fmt.Errorf("bad address %q", s)
	}
	var a [16]byte
	for i := 0; i < 4; i++ {
		v, err := strconv.ParseUint(s[i*8:i*8+8], 16, 32)
		if err != nil {
			return netip.Addr{}, err
		}
		binary.NativeEndian.PutUint32(a[i*4:], uint32(v))
	}
	return netip.AddrFrom16(a).Unmap(), nil
}

func resolvConf(path string) (servers, search []string) {
	servers = []string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return servers, nil
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			servers = append(servers, f[1])
		case "search", "domain":
			search = append(search, f[1:]...)
		}
	}
	return servers, search
}

type sockOwner struct {
	pid  int
	name string
}

// socketOwners maps socket inodes to the first process holding them, by
// reading the /proc/<pid>/fd links visible to servagent's user.
func socketOwners() map[uint64]sockOwner {
	owners := map[uint64]sockOwner{}
	pids, err := listPIDs()
	if err != nil {
		return owners
	}
	slices.Sort(pids) // the lowest pid is usually the master of a forking server
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		d, err := os.Open(dir)
		if err != nil {
			continue
		}
		names, _ := d.Readdirnames(-1)
		d.Close()
		name := ""
		for _, n := range names {
			link, err := os.Readlink(dir + "/" + n)
			if err != nil {
				continue
			}
			num, ok := strings.CutPrefix(link, "socket:[")
			if !ok {
				continue
			}
			inode, err := strconv.ParseUint(strings.TrimSuffix(num, "]"), 10, 64)
			if err != nil {
				continue
			}
			if _, taken := owners[inode]; taken {
				continue
			}
			if name == "" {
				if st, err := readProcStat(pid); err == nil {
					name = st.name
				}
			}
			owners[inode] = sockOwner{pid: pid, name: name}
		}
	}
	return owners
}

// Socket states in /proc/net/{tcp,udp}: 0A is TCP LISTEN; 07 (CLOSE) is how
// an unconnected, bound UDP socket appears.
const (
	tcpListen   = "0A"
	udpUnconned = "07"
)

func listeners(proto string, owners map[uint64]sockOwner) ([]ListenerInfo, error) {
	b, err := os.ReadFile("/proc/net/" + proto)
	if err != nil {
		return nil, err
	}
	want := tcpListen
	if strings.HasPrefix(proto, "udp") {
		want = udpUnconned
	}
	var out []ListenerInfo
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 10 || f[3] != want {
			continue
		}
		host, port, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		var addr netip.Addr
		if strings.HasSuffix(proto, "6") {
			addr, err = hexIPv6(host)
		} else {
			addr, err = hexIPv4(host)
		}
		if err != nil {
			continue
		}
		p, err := strconv.ParseUint(port, 16, 16)
		if err != nil {
			continue
		}
		if strings.HasPrefix(proto, "udp") {
			// Connected UDP sockets have a remote port; they are not listeners.
			if _, rport, _ := strings.Cut(f[2], ":"); rport != "0000" {
				continue
			}
		}
		l := ListenerInfo{Proto: proto, Address: addr.String(), Port: int(p)}
		if inode, err := strconv.ParseUint(f[9], 10, 64); err == nil {
			if o, ok := owners[inode]; ok {
				l.PID, l.Process = o.pid, o.name
			}
		}
		out = append(out, l)
	}
	return out, nil
}

func networkText(o NetworkInfoOutput) *mcp.CallToolResult {
	var b strings.Builder
	b.WriteString("Interfaces:\n")
	for _, i := range o.Interfaces {
		state := "down"
		if i.Up {
			state = "up"
		}
		fmt.Fprintf(&b, "  %-12s %-4s mtu %-5d", i.Name, state, i.MTU)
		if i.MAC != "" {
			fmt.Fprintf(&b, " mac %s", i.MAC)
		}
		if len(i.Addresses) > 0 {
			fmt.Fprintf(&b, " %s", strings.Join(i.Addresses, " "))
		}
		b.WriteString("\n")
	}
	b.WriteString("Default routes:\n")
	for _, r := range o.DefaultRoutes {
		fmt.Fprintf(&b, "  %s via %s dev %s metric %d\n", r.Family, r.Gateway, r.Interface, r.Metric)
	}
	if len(o.DefaultRoutes) == 0 {
		b.WriteString("  (none)\n")
	}
	fmt.Fprintf(&b, "DNS servers: %s\n", strings.Join(o.DNSServers, " "))
	if len(o.DNSSearch) > 0 {
		fmt.Fprintf(&b, "DNS search: %s\n", strings.Join(o.DNSSearch, " "))
	}
	b.WriteString("Listening sockets:\n")
	for _, l := range o.Listeners {
		host := l.Address
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		fmt.Fprintf(&b, "  %-5s %-30s", l.Proto, host+":"+strconv.Itoa(l.Port))
		if l.PID > 0 {
			fmt.Fprintf(&b, " pid %d (%s)", l.PID, l.Process)
		}
		b.WriteString("\n")
	}
	if len(o.Listeners) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, w := range o.Warnings {
		b.WriteString("warning: " + w + "\n")
	}
	return textResult("%s", b.String())
}
