// Package systemtest holds the test helpers of the install lifecycle shared by
// pkg/system and the commands that drive it.
package systemtest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// HealthServer plays the started service: it answers /healthz with version on
// a free loopback port, which it returns, until the test ends.
func HealthServer(t testing.TB, version string) int {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"status":"ok","version":%q}`, version)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}
