// Package buildinfo carries the version stamped into the binary at build time.
package buildinfo

import "runtime/debug"

// Set with -ldflags "-X github.com/servagent/servagent/pkg/buildinfo.Version=v1.2.3 ...".
var (
	Version = "dev"
	Commit  = ""
	Date    = ""
)

func init() {
	if Commit != "" {
		return
	}
	// A dev build (go run / go build) still knows its VCS revision.
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				Commit = s.Value
			case "vcs.time":
				if Date == "" {
					Date = s.Value
				}
			}
		}
	}
	if Commit == "" {
		Commit = "unknown"
	}
	if Date == "" {
		Date = "unknown"
	}
}
