package system

// NormalizeDomain lowercases d, drops a trailing dot and checks it is a DNS
// name, as install and tls setup do (the setup wizard validates with it).
func NormalizeDomain(d string) (string, error) { return normalizeDomain(d) }

// PublicAddress is the address install prints in client configurations
// when there is no domain: the first global unicast IPv4 address, else the
// host name.
func PublicAddress() string { return publicIP() }
