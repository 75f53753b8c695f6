package jobs

import (
	"fmt"
	"sort"
	"strings"
)

// terminalKeys are the bytes a terminal sends for each named key.
var terminalKeys = map[string]string{
	"enter":     "\r",
	"tab":       "\t",
	"esc":       "\x1b",
	"backspace": "\x7f",
	"up":        "\x1b[A",
	"down":      "\x1b[B",
	"right":     "\x1b[C",
	"left":      "\x1b[D",
	"ctrl-c":    "\x03",
	"ctrl-d":    "\x04",
	"ctrl-z":    "\x1a",
	`ctrl-\`:    "\x1c",
}

// KeyNames lists the named keys write_job_input accepts, sorted.
func KeyNames() []string {
	names := make([]string, 0, len(terminalKeys))
	for k := range terminalKeys {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// validKey reports an error naming the accepted keys for an unknown one.
func validKey(k string) error {
	if _, ok := terminalKeys[strings.ToLower(k)]; ok {
		return nil
	}
	return fmt.Errorf("unknown key %q: use one of %s", k, strings.Join(KeyNames(), ", "))
}
