package secret

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// HandoverFDVar names the environment variable that tells a re-executed
// process which inherited descriptor holds its secrets. It does not start
// with SERVAGENT_, so it is not mistaken for a setting.
const HandoverFDVar = "_SERVAGENT_SECRETS_FD"

// maxHandover bounds what is written into the pipe before anyone reads it:
// the kernel's default pipe buffer is 64 KiB, and a write that did not fit
// would wait forever for a reader that only exists after the exec.
const maxHandover = 60 << 10

// Handover removes the named variables from this process's environment
// block, which the kernel keeps readable in /proc/<pid>/environ for the
// whole life of the process (os.Unsetenv does not change it). When one of
// them is set, it re-executes the running binary in place (same pid, same
// arguments, same descriptors) with an environment without them, and hands
// their values over through an inherited pipe that Received reads. It
// returns only when there is nothing to hand over, or on error; on success
// the exec does not return.
func Handover(names []string) error {
	var keep []string
	var secrets bytes.Buffer
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == HandoverFDVar {
			continue
		}
		if slices.Contains(names, k) {
			if strings.ContainsAny(kv, "\n\x00") {
				return fmt.Errorf("secret %s contains a newline or NUL; cannot hand it over", k)
			}
			secrets.WriteString(kv + "\n")
			continue
		}
		keep = append(keep, kv)
	}
	if secrets.Len() == 0 {
		return nil
	}
	if secrets.Len() > maxHandover {
		return fmt.Errorf("secrets in the environment are larger than %d KiB together; put them in the .env file", maxHandover>>10)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("handing secrets over: %w", err)
	}
	defer r.Close()
	w.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err = w.Write(secrets.Bytes())
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("handing secrets over: %w", err)
	}
	fd := r.Fd()
	// os.Pipe opens with close-on-exec; this descriptor must survive the exec.
	if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETFD, 0); errno != 0 {
		return fmt.Errorf("handing secrets over: fcntl: %w", errno)
	}
	keep = append(keep, HandoverFDVar+"="+strconv.Itoa(int(fd)))
	// /proc/self/exe is the running binary even if its path was replaced
	// since (an update): the same code runs, only the environment changes.
	err = syscall.Exec("/proc/self/exe", os.Args, keep)
	runtime.KeepAlive(r)
	return fmt.Errorf("re-executing without secrets in the environment: %w", err)
}

// Received returns the secrets a Handover passed to this process, keyed by
// name, or nil when this process was not started by a Handover. It reads and
// closes the descriptor and removes HandoverFDVar from the environment, so
// child processes inherit neither.
func Received() (map[string]string, error) {
	v, ok := os.LookupEnv(HandoverFDVar)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(HandoverFDVar)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q: expected an inherited descriptor number", HandoverFDVar, v)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		return nil, fmt.Errorf("%s=%d: not an inherited pipe", HandoverFDVar, fd)
	}
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "secrets")
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxHandover+1))
	if err != nil {
		return nil, fmt.Errorf("reading handed-over secrets: %w", err)
	}
	if len(data) > maxHandover {
		return nil, errors.New("reading handed-over secrets: too large")
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxHandover+1)
	for sc.Scan() {
		if k, val, ok := strings.Cut(sc.Text(), "="); ok {
			out[k] = val
		}
	}
	return out, sc.Err()
}
