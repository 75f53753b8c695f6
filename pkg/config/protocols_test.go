package config

import (
	"net/netip"
	"slices"
	"testing"
)

func TestProtocolsAndTrustedProxies(t *testing.T) {
	load := func(env map[string]string) (*Config, error) {
		return Load(LoadOptions{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			Environ: []string{}, DefaultEnvFiles: []string{}})
	}
	c, err := load(map[string]string{"SERVAGENT_API_KEY": "k-0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Serves(ProtocolLegacy) || !c.Serves(Protocol20260728) || len(c.Proxies()) != 0 {
		t.Errorf("defaults: protocols %v, proxies %v", c.Protocols, c.Proxies())
	}
	c, err = load(map[string]string{"SERVAGENT_API_KEY": "k-0123456789abcdef", "SERVAGENT_ALLOWED_HOSTS": "x.example", "SERVAGENT_PROTOCOLS": "2026-07-28"})
	if err != nil {
		t.Fatal(err)
	}
	// SERVAGENT_ALLOWED_HOSTS alone trusts no proxy, not even loopback.
	if c.Serves(ProtocolLegacy) || len(c.Proxies()) != 0 {
		t.Errorf("protocols %v, proxies %v, want none", c.Protocols, c.Proxies())
	}
	c, err = load(map[string]string{"SERVAGENT_API_KEY": "k-0123456789abcdef", "SERVAGENT_ALLOWED_HOSTS": "x.example", "SERVAGENT_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}; !slices.Equal(c.Proxies(), want) {
		t.Errorf("explicit proxies %v, want %v", c.Proxies(), want)
	}
	for name, v := range map[string]string{"SERVAGENT_PROTOCOLS": "2025-06-18", "SERVAGENT_TRUSTED_PROXIES": "proxy.example"} {
		if _, err := load(map[string]string{"SERVAGENT_API_KEY": "k-0123456789abcdef", name: v}); !IsConfigError(err) {
			t.Errorf("%s=%s: %v, want a config error", name, v, err)
		}
	}
}
