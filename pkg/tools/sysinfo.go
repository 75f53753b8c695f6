package tools

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/servagent/servagent/pkg/fsutil"
	"github.com/servagent/servagent/pkg/osrelease"
)

// SystemInfoInput has no arguments.
type SystemInfoInput struct{}

// DiskInfo is one mounted filesystem.
type DiskInfo struct {
	Mount       string  `json:"mount"`
	Device      string  `json:"device"`
	FSType      string  `json:"fs_type"`
	SizeBytes   uint64  `json:"size_bytes"`
	UsedBytes   uint64  `json:"used_bytes"`
	AvailBytes  uint64  `json:"avail_bytes" jsonschema:"space available to unprivileged users"`
	UsedPercent float64 `json:"used_percent" jsonschema:"used / (used + avail), as df computes it"`
	Error       string  `json:"error,omitempty" jsonschema:"set when the filesystem did not answer (e.g. a dead NFS server)"`
}

// SystemInfoOutput is the result of system_info.
type SystemInfoOutput struct {
	OS             string     `json:"os" jsonschema:"PRETTY_NAME from /etc/os-release"`
	Kernel         string     `json:"kernel"`
	Arch           string     `json:"arch"`
	Hostname       string     `json:"hostname"`
	UptimeSeconds  int64      `json:"uptime_seconds"`
	Uptime         string     `json:"uptime"`
	BootTime       string     `json:"boot_time,omitempty"`
	Load1          float64    `json:"load_1"`
	Load5          float64    `json:"load_5"`
	Load15         float64    `json:"load_15"`
	CPUModel       string     `json:"cpu_model"`
	CPUCount       int        `json:"cpu_count" jsonschema:"logical CPUs online"`
	MemTotalBytes  uint64     `json:"mem_total_bytes"`
	MemAvailBytes  uint64     `json:"mem_available_bytes"`
	MemUsedBytes   uint64     `json:"mem_used_bytes" jsonschema:"total - available"`
	SwapTotalBytes uint64     `json:"swap_total_bytes"`
	SwapUsedBytes  uint64     `json:"swap_used_bytes"`
	Disks          []DiskInfo `json:"disks"`
	CurrentUser    string     `json:"current_user" jsonschema:"the user servagent runs as"`
	Warnings       []string   `json:"warnings,omitempty"`
}

var systemInfoTool = define(Tool{
	Name:  "system_info",
	Title: "System information",
	Description: "Describe the server: OS and version, kernel, architecture, hostname, uptime, load averages, CPU model and count, memory and swap, and disk usage of each real filesystem. " +
		"Call it once at the start of a session and reuse the answer; call again only to re-check load, memory or disk space.",
	Hints: Hints{ReadOnly: true, Idempotent: true},
}, (*Env).systemInfo)

func (e *Env) systemInfo(ctx context.Context, _ *mcp.CallToolRequest, _ SystemInfoInput) (*mcp.CallToolResult, SystemInfoOutput, error) {
	var o SystemInfoOutput
	warn := func(format string, args ...any) { o.Warnings = append(o.Warnings, fmt.Sprintf(format, args...)) }

	o.OS = osName(osrelease.Files())
	var u syscall.Utsname
	if err := syscall.Uname(&u); err == nil {
		o.Kernel = utsString(u.Sysname[:]) + " " + utsString(u.Release[:]) + " " + utsString(u.Version[:])
		o.Arch = utsString(u.Machine[:])
	} else {
		o.Arch = runtime.GOARCH
		warn("uname: %v", err)
	}
	o.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			secs, _ := strconv.ParseFloat(f[0], 64)
			o.UptimeSeconds = int64(secs)
			o.Uptime = formatUptime(o.UptimeSeconds)
		}
	} else {
		warn("uptime: %v", err)
	}
	if bt, err := bootTime(); err == nil {
		o.BootTime = bt.UTC().Format(time.RFC3339)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			o.Load1, _ = strconv.ParseFloat(f[0], 64)
			o.Load5, _ = strconv.ParseFloat(f[1], 64)
			o.Load15, _ = strconv.ParseFloat(f[2], 64)
		}
	} else {
		warn("loadavg: %v", err)
	}
	o.CPUModel, o.CPUCount = cpuInfo()
	if m, err := readMeminfo(); err == nil {
		o.MemTotalBytes = m["MemTotal"]
		o.MemAvailBytes = m["MemAvailable"]
		if _, ok := m["MemAvailable"]; !ok { // kernels before 3.14
			o.MemAvailBytes = m["MemFree"] + m["Buffers"] + m["Cached"]
		}
		if o.MemTotalBytes >= o.MemAvailBytes {
			o.MemUsedBytes = o.MemTotalBytes - o.MemAvailBytes
		}
		o.SwapTotalBytes = m["SwapTotal"]
		if m["SwapTotal"] >= m["SwapFree"] {
			o.SwapUsedBytes = m["SwapTotal"] - m["SwapFree"]
		}
	} else {
		warn("meminfo: %v", err)
	}
	disks, err := listDisks(ctx)
	if err != nil {
		warn("mounts: %v", err)
	}
	o.Disks = disks
	o.CurrentUser = userNames{}.name(os.Geteuid())
	return systemInfoText(o), o, nil
}

// utsString is generic because Utsname holds int8 on some architectures
// and uint8 on others.
func utsString[T int8 | uint8](b []T) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

func formatUptime(secs int64) string {
	d, h, m := secs/86400, secs%86400/3600, secs%3600/60
	if d > 0 {
		return fmt.Sprintf("%dd %dh %dm", d, h, m)
	}
	return fmt.Sprintf("%dh %dm", h, m)
}

// osName is system_info's os: the os-release name, or says there is none.
func osName(files []string) string {
	if name, ok := osrelease.PrettyName(files); ok {
		return name
	}
	return "Linux (no /etc/os-release)"
}

// cpuInfo returns the CPU model and the number of online CPUs.
func cpuInfo() (string, int) {
	count := 0
	model := ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			switch k {
			case "processor":
				count++
			// x86 says "model name"; ARM and others use one of the rest.
			case "model name", "Hardware", "Model", "cpu model", "uarch":
				if model == "" {
					model = v
				}
			}
		}
	}
	if count == 0 {
		count = runtime.NumCPU()
	}
	if model == "" {
		model = "unknown (" + runtime.GOARCH + ")"
	}
	return model, count
}

// readMeminfo returns /proc/meminfo in bytes.
func readMeminfo() (map[string]uint64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return nil, err
	}
	m := map[string]uint64{}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		m[k] = n
	}
	return m, nil
}

// diskFSTypes are filesystems that hold data; everything else in
// /proc/mounts (proc, cgroup, tmpfs, squashfs snaps, ...) is left out.
var diskFSTypes = []string{
	"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "jfs", "reiserfs", "bcachefs",
	"vfat", "exfat", "ntfs", "ntfs3", "fuseblk", "nfs", "nfs4", "cifs", "smb3", "ceph", "glusterfs",
}

// statfsTimeout bounds statfs on one mount: a dead NFS server would
// otherwise hang the call for ever.
const statfsTimeout = 2 * time.Second

func listDisks(ctx context.Context) ([]DiskInfo, error) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil, err
	}
	var disks []DiskInfo
	seen := map[string]bool{}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		dev, mnt, fstype := fsutil.UnescapeMount(f[0]), fsutil.UnescapeMount(f[1]), f[2]
		// overlay counts only as the root of a container.
		if !slices.Contains(diskFSTypes, fstype) && !(fstype == "overlay" && mnt == "/") {
			continue
		}
		// Bind mounts show the same device again; keep the first (shortest
		// path, as /proc/mounts lists parents first).
		if seen[dev] && fstype != "nfs" && fstype != "nfs4" && fstype != "cifs" {
			continue
		}
		if fi, err := os.Stat(mnt); err != nil || !fi.IsDir() {
			continue // e.g. /etc/hosts bind-mounted into a container
		}
		seen[dev] = true
		d := DiskInfo{Mount: mnt, Device: dev, FSType: fstype}
		st, err := statfsTimed(ctx, mnt)
		if err != nil {
			d.Error = err.Error()
			disks = append(disks, d)
			continue
		}
		bs := uint64(st.Bsize)
		d.SizeBytes = st.Blocks * bs
		d.AvailBytes = st.Bavail * bs
		if st.Blocks >= st.Bfree {
			d.UsedBytes = (st.Blocks - st.Bfree) * bs
		}
		if d.SizeBytes == 0 {
			continue
		}
		if d.UsedBytes+d.AvailBytes > 0 {
			d.UsedPercent = round1(float64(d.UsedBytes) * 100 / float64(d.UsedBytes+d.AvailBytes))
		}
		disks = append(disks, d)
	}
	return disks, nil
}

func statfsTimed(ctx context.Context, path string) (syscall.Statfs_t, error) {
	type result struct {
		st  syscall.Statfs_t
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var st syscall.Statfs_t
		err := syscall.Statfs(path, &st)
		ch <- result{st, err}
	}()
	select {
	case r := <-ch:
		return r.st, r.err
	case <-time.After(statfsTimeout):
		return syscall.Statfs_t{}, fmt.Errorf("statfs did not answer within %s (unresponsive network filesystem?)", statfsTimeout)
	case <-ctx.Done():
		return syscall.Statfs_t{}, ctx.Err()
	}
}

func systemInfoText(o SystemInfoOutput) *mcp.CallToolResult {
	var b strings.Builder
	fmt.Fprintf(&b, "OS: %s\nKernel: %s\nArch: %s\nHostname: %s\nRunning as: %s\n", o.OS, o.Kernel, o.Arch, o.Hostname, o.CurrentUser)
	fmt.Fprintf(&b, "Uptime: %s (booted %s)\nLoad: %.2f %.2f %.2f\n", o.Uptime, o.BootTime, o.Load1, o.Load5, o.Load15)
	fmt.Fprintf(&b, "CPU: %d x %s\n", o.CPUCount, o.CPUModel)
	fmt.Fprintf(&b, "Memory: %s total, %s used, %s available\n", humanBytes(o.MemTotalBytes), humanBytes(o.MemUsedBytes), humanBytes(o.MemAvailBytes))
	if o.SwapTotalBytes > 0 {
		fmt.Fprintf(&b, "Swap: %s total, %s used\n", humanBytes(o.SwapTotalBytes), humanBytes(o.SwapUsedBytes))
	} else {
		b.WriteString("Swap: none\n")
	}
	b.WriteString("Disks:\n")
	for _, d := range o.Disks {
		if d.Error != "" {
			fmt.Fprintf(&b, "  %s (%s on %s): %s\n", d.Mount, d.FSType, d.Device, d.Error)
			continue
		}
		fmt.Fprintf(&b, "  %-20s %9s size %9s used %9s avail %5.1f%%  %s on %s\n",
			d.Mount, humanBytes(d.SizeBytes), humanBytes(d.UsedBytes), humanBytes(d.AvailBytes), d.UsedPercent, d.FSType, d.Device)
	}
	if len(o.Disks) == 0 {
		b.WriteString("  (no disk filesystem found in /proc/mounts)\n")
	}
	for _, w := range o.Warnings {
		b.WriteString("warning: " + w + "\n")
	}
	return textResult("%s", b.String())
}
