package jobs

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// readingTerminal reports whether a process of the terminal's foreground
// process group is blocked reading the terminal, the way a shell's prompt
// waits: the job's session leader names the foreground group (tpgid in
// /proc/PID/stat), and a member of that group sits in read(2) on the tty, or
// in poll/select (readline) with the tty as its stdin. tty is the
// terminal's path (/dev/pts/N).
func readingTerminal(leader int, tty string) bool {
	st, ok := readStat(leader)
	if !ok || st.tpgid <= 0 {
		return false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ps, ok := readStat(pid)
		if !ok || ps.pgrp != st.tpgid || ps.session != st.session || ps.state != 'S' {
			continue
		}
		if blockedOnTTY(pid, tty) {
			return true
		}
	}
	return false
}

type procStat struct {
	state                byte
	pgrp, session, tpgid int
}

func readStat(pid int) (procStat, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 6 {
		return procStat{}, false
	}
	var st procStat
	st.state = f[0][0]
	st.pgrp, _ = strconv.Atoi(f[2])
	st.session, _ = strconv.Atoi(f[3])
	st.tpgid, _ = strconv.Atoi(f[5])
	return st, true
}

// blockedOnTTY reads /proc/PID/syscall (the syscall a blocked task sits in
// and its arguments): read or readv of an fd that is the terminal, or a
// poll family call while fd 0 is the terminal. Where that file cannot be
// read, the kernel's wait channel of a tty read is the fallback.
func blockedOnTTY(pid int, tty string) bool {
	base := "/proc/" + strconv.Itoa(pid)
	data, err := os.ReadFile(base + "/syscall")
	if err == nil {
		f := strings.Fields(string(data))
		if len(f) < 2 {
			return false
		}
		nr, err := strconv.Atoi(f[0])
		if err != nil {
			return false
		}
		switch nr {
		case syscall.SYS_READ, syscall.SYS_READV:
			fd, err := strconv.ParseInt(strings.TrimPrefix(f[1], "0x"), 16, 64)
			return err == nil && fdIs(base, int(fd), tty)
		case pollSyscalls[0], pollSyscalls[1], pollSyscalls[2], pollSyscalls[3]:
			return fdIs(base, 0, tty)
		}
		return false
	}
	w, err := os.ReadFile(base + "/wchan")
	return err == nil && (string(w) == "n_tty_read" || string(w) == "wait_woken") && fdIs(base, 0, tty)
}

func fdIs(base string, fd int, tty string) bool {
	l, err := os.Readlink(base + "/fd/" + strconv.Itoa(fd))
	return err == nil && l == tty
}
