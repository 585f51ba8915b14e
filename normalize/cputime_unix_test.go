//go:build unix

package normalize_test

import "syscall"

// processCPU returns the CPU time (user + system) this process has used,
// in nanoseconds. Benchmarks report it per op beside wall time: on a busy
// machine wall time measures the neighbours, CPU time measures the code.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
