package tools

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/servagent/servagent/pkg/textutil"
	"github.com/servagent/servagent/pkg/timeutil"
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
	return textutil.Clip(s, maxCmdline)
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
	sortBy, limit, err := processArgs(in)
	if err != nil {
		return nil, ListProcessesOutput{}, err
	}
	sample, err := sampleCPU(ctx)
	if err != nil {
		return nil, ListProcessesOutput{}, err
	}
	out := ListProcessesOutput{SortBy: sortBy, CPUSample: fmt.Sprintf("%.1fs sample between two reads of /proc", sample.elapsed)}
	filter := strings.ToLower(in.Filter)
	procs := make([]ProcessInfo, 0, len(sample.pids))
	users := userNames{}
	for _, pid := range sample.pids {
		p, ok := sample.process(pid, users)
		if !ok {
			continue // vanished mid-scan
		}
		out.Total++
		if filter != "" && !strings.Contains(strings.ToLower(p.Name), filter) &&
			!strings.Contains(strings.ToLower(p.Command), filter) &&
			!strings.Contains(strings.ToLower(p.User), filter) {
			continue
		}
		procs = append(procs, p)
	}
	slices.SortFunc(procs, processOrder(sortBy))
	out.Matched = len(procs)
	out.Processes = procs[:min(limit, len(procs))]
	return processesText(out, in.Filter, e.MaxOutputSize), out, nil
}

// processArgs validates sort_by and limit and applies their defaults.
func processArgs(in ListProcessesInput) (string, int, error) {
	sortBy := strings.ToLower(strings.TrimSpace(in.SortBy))
	if sortBy == "" {
		sortBy = "cpu"
	}
	if sortBy != "cpu" && sortBy != "mem" && sortBy != "pid" {
		return "", 0, fmt.Errorf("sort_by must be cpu, mem or pid, not %q", in.SortBy)
	}
	limit := in.Limit
	switch {
	case limit < 0:
		return "", 0, fmt.Errorf("limit must be positive (default 50, max 1000)")
	case limit == 0:
		limit = 50
	case limit > 1000:
		limit = 1000
	}
	return sortBy, limit, nil
}

// procSample is two reads of /proc a sample window apart.
type procSample struct {
	boot     time.Time
	before   map[int]procStat
	pids     []int
	elapsed  float64
	pageSize uint64
	memTotal uint64
}

// sampleCPU reads every process's CPU ticks, waits the sample window, and
// lists the processes to report.
func sampleCPU(ctx context.Context) (*procSample, error) {
	boot, err := bootTime()
	if err != nil {
		return nil, fmt.Errorf("cannot read /proc/stat: %w (is /proc mounted?)", err)
	}
	pids, err := listPIDs()
	if err != nil {
		return nil, fmt.Errorf("cannot list /proc: %w", err)
	}
	s := &procSample{boot: boot, before: make(map[int]procStat, len(pids)), pageSize: uint64(os.Getpagesize())}
	for _, pid := range pids {
		if st, err := readProcStat(pid); err == nil {
			s.before[pid] = st
		}
	}
	t0 := time.Now()
	if !timeutil.Sleep(ctx, cpuSample) {
		return nil, ctx.Err()
	}
	if s.pids, err = listPIDs(); err != nil {
		return nil, fmt.Errorf("cannot list /proc: %w", err)
	}
	s.elapsed = time.Since(t0).Seconds()
	s.memTotal = memTotalBytes()
	return s, nil
}

// process describes one pid at the end of the sample; ok is false when
// any read fails, i.e. the process vanished.
func (s *procSample) process(pid int, users userNames) (ProcessInfo, bool) {
	st, err := readProcStat(pid)
	if err != nil {
		return ProcessInfo{}, false
	}
	uid, err := procUID(pid)
	if err != nil {
		return ProcessInfo{}, false
	}
	started := s.boot.Add(time.Duration(st.startTick) * time.Second / clockTicks)
	p := ProcessInfo{
		PID:       pid,
		PPID:      st.ppid,
		User:      users.name(uid),
		Name:      st.name,
		State:     stateName(st.state),
		StartTime: started.Format(time.RFC3339),
		Command:   procCmdline(pid, st.name),
	}
	if st.rssPages > 0 {
		p.RSSBytes = uint64(st.rssPages) * s.pageSize
	}
	if s.memTotal > 0 {
		p.MemPercent = round1(float64(p.RSSBytes) * 100 / float64(s.memTotal))
	}
	// A process started during the sample (or a recycled pid) is measured
	// from its own start instead.
	base := uint64(0)
	window := s.elapsed
	if b, ok := s.before[pid]; ok && b.startTick == st.startTick {
		base = b.cpuTicks
	} else {
		window = time.Since(started).Seconds()
	}
	if window > 0 && st.cpuTicks >= base {
		p.CPUPercent = round1(float64(st.cpuTicks-base) / clockTicks / window * 100)
	}
	return p, true
}

// processOrder sorts by CPU (then memory), by memory, or by pid; ties by pid.
func processOrder(sortBy string) func(a, b ProcessInfo) int {
	return func(a, b ProcessInfo) int {
		switch sortBy {
		case "cpu":
			if c := cmp.Compare(b.CPUPercent, a.CPUPercent); c != 0 {
				return c
			}
			if c := cmp.Compare(b.RSSBytes, a.RSSBytes); c != 0 {
				return c
			}
		case "mem":
			if c := cmp.Compare(b.RSSBytes, a.RSSBytes); c != 0 {
				return c
			}
		}
		return a.PID - b.PID
	}
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
			p.PID, p.PPID, textutil.Clip(p.User, 12), p.CPUPercent, humanBytes(p.RSSBytes), p.MemPercent, p.StartTime, p.State, p.Command)
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
