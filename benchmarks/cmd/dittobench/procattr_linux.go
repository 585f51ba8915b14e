package main

import "syscall"

// sysProcAttr kills children when the driver dies, so no server outlives a
// killed benchmark.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
