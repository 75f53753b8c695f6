package jobs

import "syscall"

var pollSyscalls = [4]int{syscall.SYS_POLL, syscall.SYS_PPOLL, syscall.SYS_SELECT, syscall.SYS_PSELECT6}
