package secret

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Scrub removes the named variables from this process: from the Go
// environment, which child processes inherit, and from the environment
// block the kernel shows in /proc/<pid>/environ for the whole life of the
// process, which os.Unsetenv does not change.
//
// That block is memory of the process itself (the strings execve(2) put
// on the initial stack, between env_start and env_end of
// /proc/self/stat). Scrub overwrites each named entry with NUL bytes
// through /proc/self/mem, then reads /proc/self/environ back to confirm.
// Nothing reads the block after start-up: the Go runtime copied it into
// its own strings before main ran.
//
// It returns an error, with the block possibly unchanged, where the kernel
// does not allow it (a /proc without env_start, a /proc/self/mem that
// refuses writes); the caller can then fall back to Handover.
func Scrub(names []string) error {
	start, end, err := envBounds()
	if err != nil {
		return err
	}
	if err := zeroEntries(start, end, names); err != nil {
		return err
	}
	if err := checkScrubbed(names); err != nil {
		return err
	}
	// Last, so that a caller falling back to Handover still finds them.
	for _, n := range names {
		os.Unsetenv(n)
	}
	return nil
}

// envBounds reads env_start and env_end (fields 50 and 51, Linux 3.5 and
// later) from /proc/self/stat.
func envBounds() (start, end int64, err error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("scrubbing the environment: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields after it start at field 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("scrubbing the environment: /proc/self/stat has no command name")
	}
	fields := strings.Fields(string(b[i+1:]))
	const envStart = 50 - 3
	if len(fields) <= envStart+1 {
		return 0, 0, errors.New("scrubbing the environment: /proc/self/stat has no env_start (kernel before 3.5)")
	}
	start, err1 := strconv.ParseInt(fields[envStart], 10, 64)
	end, err2 := strconv.ParseInt(fields[envStart+1], 10, 64)
	if err1 != nil || err2 != nil || start <= 0 || end < start || end-start > 64<<20 {
		return 0, 0, fmt.Errorf("scrubbing the environment: unusable env_start/env_end %q %q", fields[envStart], fields[envStart+1])
	}
	return start, end, nil
}

// zeroEntries overwrites every NAME=value entry of the block at
// [start, end) whose name is in names.
func zeroEntries(start, end int64, names []string) error {
	mem, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("scrubbing the environment: %w", err)
	}
	defer mem.Close()
	block := make([]byte, end-start)
	if _, err := mem.ReadAt(block, start); err != nil {
		return fmt.Errorf("scrubbing the environment: reading the block: %w", err)
	}
	for off := 0; off < len(block); {
		n := bytes.IndexByte(block[off:], 0)
		if n < 0 {
			n = len(block) - off
		}
		name, _, _ := bytes.Cut(block[off:off+n], []byte("="))
		if n > 0 && slices.Contains(names, string(name)) {
			if _, err := mem.WriteAt(make([]byte, n), start+int64(off)); err != nil {
				return fmt.Errorf("scrubbing the environment: %w", err)
			}
		}
		off += n + 1
	}
	return nil
}

// checkScrubbed reads /proc/self/environ as another process would and
// fails if a named entry is still there. (A copy of a value under another
// name is the operator's, and stays: neither a wipe nor a re-exec could
// tell it from a setting; get_environment hides it from the model.)
func checkScrubbed(names []string) error {
	b, err := os.ReadFile("/proc/self/environ")
	if err != nil {
		return fmt.Errorf("scrubbing the environment: %w", err)
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if name, _, ok := bytes.Cut(kv, []byte("=")); ok && slices.Contains(names, string(name)) {
			return fmt.Errorf("scrubbing the environment: %s is still in /proc/self/environ", name)
		}
	}
	return nil
}
