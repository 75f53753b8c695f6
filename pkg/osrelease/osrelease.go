// Package osrelease reads the operating system's name from os-release(5),
// for system_info and the instructions' context block alike.
package osrelease

import (
	"os"
	"strconv"
	"strings"
)

// Files are the os-release files in the order os-release(5) reads them: the
// standard location first, the fallback one second.
func Files() []string { return []string{"/etc/os-release", "/usr/lib/os-release"} }

// PrettyName returns PRETTY_NAME, else NAME and VERSION, of the first of
// files that has one; values may be quoted. It reports false when none of
// the files names the system, so each caller words the fallback its way.
func PrettyName(files []string) (string, bool) {
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		vals := map[string]string{}
		for line := range strings.Lines(string(b)) {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if !ok {
				continue
			}
			if uq, err := strconv.Unquote(v); err == nil {
				v = uq
			} else {
				v = strings.Trim(v, `'"`)
			}
			vals[k] = v
		}
		if vals["PRETTY_NAME"] != "" {
			return vals["PRETTY_NAME"], true
		}
		if vals["NAME"] != "" {
			return strings.TrimSpace(vals["NAME"] + " " + vals["VERSION"]), true
		}
	}
	return "", false
}
