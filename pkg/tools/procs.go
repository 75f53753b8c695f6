package tools

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat. The
// kernel exposes 100 to userspace on every architecture Go supports on Linux.
const clockTicks = 100

// cpuSample is how long list_processes measures CPU usage.
const cpuSample = 500 * time.Millisecond

// maxCmdline caps each command line in list_processes output.
const maxCmdline = 512

// ListProcessesInput are the arguments of list_processes.
type ListProcessesInput struct {
	Filter string `json:"filter,omitempty" jsonschema:"case-insensitive plain substring matched against the process name, command line and user (not a regex, not a shell pattern)"`
	SortBy string `json:"sort_by,omitempty" jsonschema:"cpu (default), mem or pid"`
	Limit  int    `json:"limit,omitempty" jsonschema:"maximum number of processes returned (default 50, max 1000)"`
}

// ProcessInfo is one process.
type ProcessInfo struct {
	PID        int     `json:"pid"`
	PPID       int     `json:"ppid"`
	User       string  `json:"user"`
	Name       string  `json:"name"`
	CPUPercent float64 `json:"cpu_percent" jsonschema:"CPU use over a 0.5s sample; 100 = one full core"`
	RSSBytes   uint64  `json:"rss_bytes"`
	MemPercent float64 `json:"mem_percent" jsonschema:"resident memory as a percentage of total RAM"`
	StartTime  string  `json:"start_time" jsonschema:"RFC3339"`
	State      string  `json:"state"`
	Command    string  `json:"command" jsonschema:"command line, cut at 512 characters; [name] for kernel threads"`
}

// ListProcessesOutput is the result of list_processes.
type ListProcessesOutput struct {
	Processes []ProcessInfo `json:"processes"`
	Matched   int           `json:"matched" jsonschema:"processes matching the filter, before the limit"`
	Total     int           `json:"total" jsonschema:"processes on the host"`
	SortBy    string        `json:"sort_by"`
	CPUSample string        `json:"cpu_sample" jsonschema:"how cpu_percent was measured"`
}

var listProcessesTool = define(Tool{
	Name:  "list_processes",
	Title: "List processes",
	Description: "List running processes with pid, ppid, user, CPU % (measured over a 0.5s sample), resident memory, start time, state and command line, read from /proc. " +
		"Use `filter` (a case-insensitive plain substring of the name, command line or user) to find a process, e.g. filter=nginx; sort_by cpu (default), mem or pid. " +
		"Use the pid with kill_process or the name with service_action.",
	Hints: Hints{ReadOnly: true},
	Audit: []string{"sort_by", "limit"},
}, (*Env).listProcesses)

// procStat is what list_processes reads from /proc/<pid>/stat.
type procStat struct {
	name      string
	state     byte
	ppid      int
	cpuTicks  uint64 // utime + stime
	startTick uint64 // since boot
	rssPages  int64
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

// parseProcStat parses /proc/<pid>/stat. The name sits between the first
// '(' and the last ')' because it may itself contain spaces and parentheses.
func parseProcStat(b []byte) (procStat, error) {
	open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return procStat{}, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[closing+1:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 22 {
		return procStat{}, errors.New("short stat")
	}
	var st procStat
	st.name = string(b[open+1 : closing])
	st.state = f[0][0]
	st.ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	stt, _ := strconv.ParseUint(f[12], 10, 64)
	st.cpuTicks = ut + stt
	st.startTick, _ = strconv.ParseUint(f[19], 10, 64)
	st.rssPages, _ = strconv.ParseInt(f[21], 10, 64)
	return st, nil
}

// listPIDs returns the numeric entries of /proc.
func listPIDs() ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// bootTime reads btime (seconds since the epoch) from /proc/stat.
func bootTime() (time.Time, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, err
			}
			return time.Unix(n, 0), nil
		}
	}
	return time.Time{}, errors.New("no btime in /proc/stat")
}

// procUID is the real uid from /proc/<pid>/status.
func procUID(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				return strconv.Atoi(f[0])
			}
		}
	}
	return -1, errors.New("no Uid in status")
}

// procCmdline returns the command line with NULs turned into spaces, or
// "[name]" for kernel threads, which have none.
func procCmdline(pid int, name string) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	b = bytes.TrimRight(b, "\x00")
	if err != nil || len(b) == 0 {
		return "[" + name + "]"
	}
	s := strings.ToValidUTF8(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})), "?")
	return capString(s, maxCmdline)
}

// capString cuts s to at most n runes, marking the cut.
func capString(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// userNames caches uid to name lookups for one call.
type userNames map[int]string

func (u userNames) name(uid int) string {
	if n, ok := u[uid]; ok {
		return n
	}
	n := strconv.Itoa(uid)
	if uid < 0 {
		n = "?"
	} else if usr, err := user.LookupId(n); err == nil {
		n = usr.Username
	}
	u[uid] = n
	return n
}

var stateNames = map[byte]string{
	'R': "running", 'S': "sleeping", 'D': "disk-sleep", 'Z': "zombie", 'T': "stopped",
	't': "tracing-stop", 'X': "dead", 'I': "idle", 'P': "parked", 'W': "paging", 'K': "wakekill",
}

func stateName(c byte) string {
	if n, ok := stateNames[c]; ok {
		return string(c) + " (" + n + ")"
	}
	return string(c)
}

func memTotalBytes() uint64 {
	m, err := readMeminfo()
	if err != nil {
		return 0
	}
	return m["MemTotal"]
}

func (e *Env) listProcesses(ctx context.Context, _ *mcp.CallToolRequest, in ListProcessesInput) (*mcp.CallToolResult, ListProcessesOutput, error) {
	sortBy := strings.ToLower(strings.TrimSpace(in.SortBy))
	if sortBy == "" {
		sortBy = "cpu"
	}
	if sortBy != "cpu" && sortBy != "mem" && sortBy != "pid" {
		return nil, ListProcessesOutput{}, fmt.Errorf("sort_by must be cpu, mem or pid, not %q", in.SortBy)
	}
	limit := in.Limit
	switch {
	case limit < 0:
		return nil, ListProcessesOutput{}, fmt.Errorf("limit must be positive (default 50, max 1000)")
	case limit == 0:
		limit = 50
	case limit > 1000:
		limit = 1000
	}
	filter := strings.ToLower(in.Filter)

	boot, err := bootTime()
	if err != nil {
		return nil, ListProcessesOutput{}, fmt.Errorf("cannot read /proc/stat: %v (is /proc mounted?)", err)
	}
	// First pass: CPU ticks, to be compared after the sample window.
	pids, err := listPIDs()
	if err != nil {
		return nil, ListProcessesOutput{}, fmt.Errorf("cannot list /proc: %v", err)
	}
	before := make(map[int]procStat, len(pids))
	for _, pid := range pids {
		if st, err := readProcStat(pid); err == nil {
			before[pid] = st
		}
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return nil, ListProcessesOutput{}, ctx.Err()
	case <-time.After(cpuSample):
	}
	pids, err = listPIDs()
	if err != nil {
		return nil, ListProcessesOutput{}, fmt.Errorf("cannot list /proc: %v", err)
	}
	elapsed := time.Since(t0).Seconds()
	pageSize := uint64(os.Getpagesize())
	memTotal := memTotalBytes()
	users := userNames{}
	out := ListProcessesOutput{SortBy: sortBy, CPUSample: fmt.Sprintf("%.1fs sample between two reads of /proc", elapsed)}
	procs := make([]ProcessInfo, 0, len(pids))
	for _, pid := range pids {
		// Any read failing means the process vanished mid-scan: skip it.
		st, err := readProcStat(pid)
		if err != nil {
			continue
		}
		uid, err := procUID(pid)
		if err != nil {
			continue
		}
		out.Total++
		p := ProcessInfo{
			PID:       pid,
			PPID:      st.ppid,
			User:      users.name(uid),
			Name:      st.name,
			State:     stateName(st.state),
			StartTime: boot.Add(time.Duration(st.startTick) * time.Second / clockTicks).Format(time.RFC3339),
			Command:   procCmdline(pid, st.name),
		}
		if st.rssPages > 0 {
			p.RSSBytes = uint64(st.rssPages) * pageSize
		}
		if memTotal > 0 {
			p.MemPercent = round1(float64(p.RSSBytes) * 100 / float64(memTotal))
		}
		// A process started during the sample (or a recycled pid) is
		// measured from its own start instead.
		base := uint64(0)
		window := elapsed
		if b, ok := before[pid]; ok && b.startTick == st.startTick {
			base = b.cpuTicks
		} else {
			window = time.Since(boot.Add(time.Duration(st.startTick) * time.Second / clockTicks)).Seconds()
		}
		if window > 0 && st.cpuTicks >= base {
			p.CPUPercent = round1(float64(st.cpuTicks-base) / clockTicks / window * 100)
		}
		if filter != "" && !strings.Contains(strings.ToLower(p.Name), filter) &&
			!strings.Contains(strings.ToLower(p.Command), filter) &&
			!strings.Contains(strings.ToLower(p.User), filter) {
			continue
		}
		procs = append(procs, p)
	}
	slices.SortFunc(procs, func(a, b ProcessInfo) int {
		switch sortBy {
		case "cpu":
			if a.CPUPercent != b.CPUPercent {
				if a.CPUPercent > b.CPUPercent {
					return -1
				}
				return 1
			}
			if a.RSSBytes != b.RSSBytes {
				if a.RSSBytes > b.RSSBytes {
					return -1
				}
				return 1
			}
		case "mem":
			if a.RSSBytes != b.RSSBytes {
				if a.RSSBytes > b.RSSBytes {
					return -1
				}
				return 1
			}
		}
		return a.PID - b.PID
	})
	out.Matched = len(procs)
	out.Processes = procs[:min(limit, len(procs))]
	return processesText(out, in.Filter, e.MaxOutputSize), out, nil
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

func processesText(o ListProcessesOutput, filter string, limit int64) *mcp.CallToolResult {
	ht := NewHeadTail(outputLimit(limit))
	if filter != "" {
		fmt.Fprintf(ht, "%d of %d processes match %q", o.Matched, o.Total, filter)
	} else {
		fmt.Fprintf(ht, "%d processes", o.Total)
	}
	fmt.Fprintf(ht, "; showing %d sorted by %s; CPU%% over a %s.\n", len(o.Processes), o.SortBy, o.CPUSample)
	if len(o.Processes) == 0 {
		ht.Write([]byte("(no matching process)\n"))
		return textResult("%s", ht.String())
	}
	fmt.Fprintf(ht, "%7s %7s %-12s %6s %10s %5s %-20s %-16s %s\n", "PID", "PPID", "USER", "CPU%", "RSS", "MEM%", "START", "STATE", "COMMAND")
	for _, p := range o.Processes {
		fmt.Fprintf(ht, "%7d %7d %-12s %6.1f %10s %5.1f %-20s %-16s %s\n",
			p.PID, p.PPID, capString(p.User, 12), p.CPUPercent, humanBytes(p.RSSBytes), p.MemPercent, p.StartTime, p.State, p.Command)
	}
	return textResult("%s", ht.String())
}

// outputLimit is MaxOutputSize with a default for a zero Env.
func outputLimit(n int64) int64 {
	if n <= 0 {
		return 1_000_000
	}
	return n
}

// humanBytes formats n with binary units.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// KillProcessInput are the arguments of kill_process.
type KillProcessInput struct {
	PID    int    `json:"pid" jsonschema:"process id (from list_processes); must be > 1"`
	Signal string `json:"signal,omitempty" jsonschema:"signal name (TERM, KILL, HUP, INT, QUIT, USR1, USR2, STOP, CONT; the SIG prefix is optional) or number; default TERM"`
}

// KillProcessOutput is the result of kill_process.
type KillProcessOutput struct {
	PID    int    `json:"pid"`
	Name   string `json:"name,omitempty"`
	Signal string `json:"signal"`
	// Exited is set for terminating signals, after waiting up to 2s.
	Exited *bool `json:"exited,omitempty" jsonschema:"for TERM, KILL, INT and QUIT: whether the process had exited 2s later"`
}

var signalNames = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "TERM": syscall.SIGTERM,
	"STOP": syscall.SIGSTOP, "CONT": syscall.SIGCONT,
}

// sigRTMAX is the highest signal number on Linux.
const sigRTMAX = 64

// parseSignal accepts TERM, SIGTERM, term or a number in 1..64.
func parseSignal(s string) (syscall.Signal, string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return syscall.SIGTERM, "SIGTERM", nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > sigRTMAX {
			return 0, "", fmt.Errorf("signal number %d is out of range 1..%d", n, sigRTMAX)
		}
		for name, sig := range signalNames {
			if int(sig) == n {
				return sig, "SIG" + name, nil
			}
		}
		return syscall.Signal(n), "signal " + s, nil
	}
	name := strings.TrimPrefix(s, "SIG")
	if sig, ok := signalNames[name]; ok {
		return sig, "SIG" + name, nil
	}
	return 0, "", fmt.Errorf("unknown signal %q: use TERM (polite stop), KILL (forced), HUP, INT, QUIT, USR1, USR2, STOP, CONT, or a number", s)
}

var killProcessTool = define(Tool{
	Name:  "kill_process",
	Title: "Kill a process",
	Description: "Send a signal to one process by pid (default TERM). Try TERM first and KILL only if the process is still there. " +
		"For a systemd service use service_action instead, or systemd restarts it. Refuses pid 1, process groups (negative pids) and servagent itself. " +
		"For TERM/KILL/INT/QUIT, waits up to 2s and says whether the process exited.",
	Hints: Hints{Destructive: true},
	Audit: []string{"pid", "signal"},
}, (*Env).killProcess)

func (e *Env) killProcess(ctx context.Context, _ *mcp.CallToolRequest, in KillProcessInput) (*mcp.CallToolResult, KillProcessOutput, error) {
	switch {
	case in.PID < 0:
		return nil, KillProcessOutput{}, fmt.Errorf("pid %d is negative, which would signal a whole process group: pass one process id > 1 (see list_processes)", in.PID)
	case in.PID == 0:
		return nil, KillProcessOutput{}, fmt.Errorf("pid is missing or 0: pass the process id from list_processes")
	case in.PID > math.MaxInt32:
		// kill(2) takes a 32-bit pid_t: 2^32+1 would wrap around to init.
		return nil, KillProcessOutput{}, fmt.Errorf("pid %d is out of range: Linux pids are below 2^22; pass a pid from list_processes", in.PID)
	}
	if err := refuseProtected(in.PID); err != nil {
		return nil, KillProcessOutput{}, err
	}
	sig, sigName, err := parseSignal(in.Signal)
	if err != nil {
		return nil, KillProcessOutput{}, err
	}
	st, statErr := readProcStat(in.PID)
	out := KillProcessOutput{PID: in.PID, Signal: sigName, Name: st.name}
	if err := syscall.Kill(in.PID, sig); err != nil {
		return nil, KillProcessOutput{}, killError(in.PID, out.Name, sigName, sig, err)
	}
	msg := fmt.Sprintf("sent %s to pid %d", sigName, in.PID)
	if out.Name != "" {
		msg += " (" + out.Name + ")"
	}
	if sig == syscall.SIGTERM || sig == syscall.SIGKILL || sig == syscall.SIGINT || sig == syscall.SIGQUIT {
		exited := waitExit(ctx, in.PID, st, statErr == nil, 2*time.Second)
		out.Exited = &exited
		if exited {
			msg += "; the process has exited"
		} else {
			msg += "; it is still running after 2s"
			if sig != syscall.SIGKILL {
				msg += ": wait a little longer, or send KILL"
			} else {
				msg += " (probably in uninterruptible disk sleep, state D); check it with list_processes"
			}
		}
	}
	return textResult("%s", msg), out, nil
}

// refuseProtected refuses init, servagent and its parent. A thread id is
// judged by its thread group: kill(2) on any thread of a process signals
// the whole process, so a TID of servagent is servagent.
func refuseProtected(pid int) error {
	tgid, what := pid, fmt.Sprintf("pid %d", pid)
	if g, ok := threadGroup(pid); ok && g != pid {
		tgid, what = g, fmt.Sprintf("pid %d (a thread of process %d)", pid, g)
	}
	switch tgid {
	case 1:
		return fmt.Errorf("refusing to signal %s: that is init, and it would bring the whole server down; use service_action for services", what)
	case os.Getpid():
		return fmt.Errorf("refusing to signal %s: it is servagent itself, and this session would end", what)
	case os.Getppid():
		return fmt.Errorf("refusing to signal %s: it is servagent's parent, and killing it would likely end servagent too", what)
	}
	return nil
}

// threadGroup reads the Tgid of a task from /proc/<id>/status (thread ids
// are not listed in /proc but resolve there).
func threadGroup(id int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(id) + "/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			return n, err == nil
		}
	}
	return 0, false
}

// waitExit polls until pid is gone, a zombie, or reused by another process.
func waitExit(ctx context.Context, pid int, was procStat, known bool, max time.Duration) bool {
	deadline := time.Now().Add(max)
	for {
		st, err := readProcStat(pid)
		if err != nil || st.state == 'Z' || st.state == 'X' || (known && st.startTick != was.startTick) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// killError turns kill(2) errors into advice for the model.
func killError(pid int, name, sigName string, sig syscall.Signal, err error) error {
	switch {
	case errors.Is(err, syscall.ESRCH):
		return fmt.Errorf("no such process: pid %d does not exist (it may already have exited); call list_processes to find the current pid", pid)
	case errors.Is(err, syscall.EPERM):
		who := "servagent's user"
		if u, uerr := user.Current(); uerr == nil {
			who = "user " + u.Username
		}
		what := fmt.Sprintf("pid %d", pid)
		if name != "" {
			what += " (" + name + ")"
		}
		return fmt.Errorf("permission denied: %s may not send %s to %s, which belongs to another user; if sudo is set up, use execute_command with `sudo -n kill -%d %d`",
			who, sigName, what, int(sig), pid)
	default:
		return fmt.Errorf("cannot send %s to pid %d: %v", sigName, pid, err)
	}
}
