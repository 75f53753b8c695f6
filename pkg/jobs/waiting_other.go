//go:build !amd64

package jobs

import "syscall"

// Architectures without poll(2) and select(2) (arm64, riscv64) have only
// the p-variants; -1 never matches.
var pollSyscalls = [4]int{-1, syscall.SYS_PPOLL, -1, syscall.SYS_PSELECT6}
