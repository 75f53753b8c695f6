package tools

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Serial: a parallel test's fork holds these sockets until exec, and after pid wrap-around it owns them by the lower pid.
func TestNetworkInfo(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	tcp6, err6 := net.Listen("tcp6", "[::1]:0")
	if err6 == nil {
		defer tcp6.Close()
	}

	res := callTool(t, newTestEnv(t), "network_info", nil)
	o := structured[NetworkInfoOutput](t, res)
	lo := slices.IndexFunc(o.Interfaces, func(i InterfaceInfo) bool { return i.Loopback })
	if lo < 0 || !o.Interfaces[lo].Up || !slices.Contains(o.Interfaces[lo].Addresses, "127.0.0.1/8") || o.Interfaces[lo].MTU == 0 {
		t.Errorf("loopback missing or wrong: %+v", o.Interfaces)
	}
	find := func(proto string, port int) *ListenerInfo {
		for i, l := range o.Listeners {
			if l.Proto == proto && l.Port == port {
				return &o.Listeners[i]
			}
		}
		return nil
	}
	check := func(proto, addr string, port int) {
		l := find(proto, port)
		if l == nil {
			t.Errorf("%s listener on port %d not found in %+v", proto, port, o.Listeners)
			return
		}
		if l.Address != addr || l.PID != os.Getpid() || l.Process == "" {
			t.Errorf("%s listener: %+v, want address %s and pid %d", proto, *l, addr, os.Getpid())
		}
	}
	check("tcp", "127.0.0.1", tcp.Addr().(*net.TCPAddr).Port)
	check("udp", "127.0.0.1", udp.LocalAddr().(*net.UDPAddr).Port)
	if err6 == nil {
		check("tcp6", "::1", tcp6.Addr().(*net.TCPAddr).Port)
	}
	if o.DNSServers == nil || o.DefaultRoutes == nil {
		t.Errorf("dns/routes must be lists, even empty: %+v", o)
	}
	if !strings.Contains(resultText(res), "Listening sockets:") {
		t.Errorf("text %q", resultText(res))
	}
}

func TestHexAddresses(t *testing.T) {
	t.Parallel()
	if a, err := hexIPv4("0100007F"); err != nil || a.String() != "127.0.0.1" {
		t.Errorf("hexIPv4 = %v, %v", a, err)
	}
	if a, err := hexIPv4("010200C0"); err != nil || a.String() != "192.0.2.1" {
		t.Errorf("gateway = %v, %v", a, err)
	}
	if a, err := hexIPv6("00000000000000000000000001000000"); err != nil || a.String() != "::1" {
		t.Errorf("hexIPv6 = %v, %v", a, err)
	}
	if a, err := hexIPv6("0000000000000000FFFF00000100007F"); err != nil || a.String() != "127.0.0.1" {
		t.Errorf("mapped = %v, %v", a, err)
	}
	if _, err := hexIPv6("zz"); err == nil {
		t.Error("bad hex accepted")
	}
}

func TestResolvConf(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(p, []byte("# comment\nnameserver 127.0.0.53\nnameserver 2001:db8::1\nsearch example.com corp\noptions edns0\n"), 0o644)
	servers, search := resolvConf(p)
	if !slices.Equal(servers, []string{"127.0.0.53", "2001:db8::1"}) || !slices.Equal(search, []string{"example.com", "corp"}) {
		t.Errorf("got %v %v", servers, search)
	}
	if s, _ := resolvConf(filepath.Join(t.TempDir(), "missing")); s == nil || len(s) != 0 {
		t.Errorf("missing file: %v", s)
	}
}
